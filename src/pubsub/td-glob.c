/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-glob"

#include "config.h"

#include "pubsub/td-glob.h"

/*
 * A transcription of Redis 7.0's stringmatchlen_impl(). Redis patterns are
 * NUL-terminated sds strings and the original reads one byte past the end
 * in a few places; here every read goes through pat_at(), which returns
 * the NUL Redis would have seen, so the results are identical without
 * reading out of bounds. Characters are compared as signed chars, as on
 * the x86 and arm64 builds of Redis, so `[a-\xff]` ranges agree too.
 */

typedef struct
{
  const char *end;     /* one past the last pattern byte */
} GlobCtx;

static inline int
pat_at (const GlobCtx *ctx,
        const char    *p,
        gssize         i)
{
  return p + i < ctx->end ? (signed char) p[i] : 0;
}

static inline int
fold (int c, gboolean nocase)
{
  return nocase ? g_ascii_tolower (c) : c;
}

static gboolean
glob_impl (const GlobCtx *ctx,
           const char    *pattern,
           gssize         pattern_len,
           const char    *string,
           gssize         string_len,
           gboolean       nocase,
           gboolean      *skip_longer,
           int            nesting)
{
  if (nesting > TD_GLOB_MAX_NESTING)
    return FALSE;

  while (pattern_len > 0 && string_len > 0)
    {
      switch (pat_at (ctx, pattern, 0))
        {
        case '*':
          while (pattern_len > 0 && pat_at (ctx, pattern, 1) == '*')
            {
              pattern++;
              pattern_len--;
            }
          if (pattern_len == 1)
            return TRUE;
          while (string_len > 0)
            {
              if (glob_impl (ctx, pattern + 1, pattern_len - 1, string, string_len,
                             nocase, skip_longer, nesting + 1))
                return TRUE;
              if (*skip_longer)
                return FALSE;
              string++;
              string_len--;
            }
          /* Nothing after this star matched anywhere in the rest of the
           * string, so no earlier star can help either: this is what keeps
           * `*a*a*a*a*b` linear instead of exponential. */
          *skip_longer = TRUE;
          return FALSE;

        case '?':
          string++;
          string_len--;
          break;

        case '[':
          {
            gboolean negate, match;

            pattern++;
            pattern_len--;
            negate = pat_at (ctx, pattern, 0) == '^';
            if (negate)
              {
                pattern++;
                pattern_len--;
              }
            match = FALSE;
            for (;;)
              {
                if (pat_at (ctx, pattern, 0) == '\\' && pattern_len >= 2)
                  {
                    pattern++;
                    pattern_len--;
                    if (pat_at (ctx, pattern, 0) == (signed char) string[0])
                      match = TRUE;
                  }
                else if (pat_at (ctx, pattern, 0) == ']')
                  {
                    break;
                  }
                else if (pattern_len <= 0)
                  {
                    pattern--;
                    pattern_len++;
                    break;
                  }
                else if (pattern_len >= 3 && pat_at (ctx, pattern, 1) == '-')
                  {
                    int start = pat_at (ctx, pattern, 0);
                    int end = pat_at (ctx, pattern, 2);
                    int c = (signed char) string[0];

                    if (start > end)
                      {
                        int t = start;
                        start = end;
                        end = t;
                      }
                    if (nocase)
                      {
                        start = g_ascii_tolower (start);
                        end = g_ascii_tolower (end);
                        c = g_ascii_tolower (c);
                      }
                    pattern += 2;
                    pattern_len -= 2;
                    if (c >= start && c <= end)
                      match = TRUE;
                  }
                else if (fold (pat_at (ctx, pattern, 0), nocase) ==
                         fold ((signed char) string[0], nocase))
                  {
                    match = TRUE;
                  }
                pattern++;
                pattern_len--;
              }
            if (negate)
              match = !match;
            if (!match)
              return FALSE;
            string++;
            string_len--;
            break;
          }

        case '\\':
          if (pattern_len >= 2)
            {
              pattern++;
              pattern_len--;
            }
          G_GNUC_FALLTHROUGH;
        default:
          if (fold (pat_at (ctx, pattern, 0), nocase) != fold ((signed char) string[0], nocase))
            return FALSE;
          string++;
          string_len--;
          break;
        }
      pattern++;
      pattern_len--;
      if (string_len == 0)
        {
          while (pat_at (ctx, pattern, 0) == '*')
            {
              pattern++;
              pattern_len--;
            }
          break;
        }
    }
  return pattern_len == 0 && string_len == 0;
}

/* Returns TRUE if @string matches the glob @pattern (Redis rules). Both
 * are binary-safe and may contain NUL bytes. */
gboolean
td_glob_match (const char *pattern,
               gsize       pattern_len,
               const char *string,
               gsize       string_len,
               gboolean    nocase)
{
  GlobCtx ctx = { .end = pattern + pattern_len };
  gboolean skip_longer = FALSE;

  g_return_val_if_fail (pattern != NULL || pattern_len == 0, FALSE);
  g_return_val_if_fail (string != NULL || string_len == 0, FALSE);

  if (pattern_len > G_MAXSSIZE || string_len > G_MAXSSIZE)
    return FALSE;
  return glob_impl (&ctx, pattern, (gssize) pattern_len, string, (gssize) string_len,
                    nocase, &skip_longer, 0);
}
