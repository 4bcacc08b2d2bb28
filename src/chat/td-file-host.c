/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-file-host"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "chat/td-file-host.h"
#include "chat/td-file-request.h"
#include "chat/td-irc-message.h"
#include "core/td-task-loop.h"

/*
 * Layers, lowest first: sniffing and names; the file index (memory and
 * database); responses; the streaming multipart reader; uploads (auth,
 * body, commit); downloads; expiry; the public API.
 *
 * An upload goes through: early handler (headers only: method, type,
 * Content-Length, credentials, read by td_file_request_parse()) -> paused
 * while a worker checks the password -> body chunks streamed through the
 * multipart reader (TdFormReader) into a temp file, hashed and sniffed on
 * the way -> handler (commit: checks, rename into place, record) ->
 * request-finished / request-aborted frees it and removes whatever temp
 * file is left. What is read from the client is parsed in
 * td-file-request.c, by pure functions that the fuzz target drives too.
 */

/* After an upload is refused mid-body the rest is read and dropped so the
 * client still gets the 413; past this many more bytes it is cut off. */
#define TD_FILE_HOST_DRAIN_MAX       (4 * 1024 * 1024)
/* Bytes of the start of a file kept for sniffing its type. */
#define TD_FILE_HOST_SNIFF_LEN       512
/* How long listen() waits for the index from the database before it
 * serves with what it has (a slow disk, a busy lock). */
#define TD_FILE_HOST_LOAD_TIMEOUT_MS 15000
/* RFC 6585; libsoup 3.2 has no name for it. */
#define TD_HTTP_TOO_MANY_REQUESTS 429

#define TD_FILE_HOST_CSP "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
/* Files never change under their URL (it holds the hash); private, since
 * they may be deleted or belong to a private conversation. */
#define TD_FILE_HOST_CACHE_CONTROL "private, max-age=86400, immutable"

enum
{
  MAIL_AUTH = 1,
  MAIL_LOADED,
};

typedef struct
{
  char   *hash;       /* SHA-256, 64 lowercase hex digits */
  char   *name;       /* sanitized */
  char   *type;       /* sniffed MIME type */
  gint64  size;
  char   *uploader;   /* account as registered; NULL: anonymous */
  gint64  created;    /* real time, usec */
  gint64  expires;    /* real time, usec; 0: never */
} FileRecord;

typedef enum
{
  PART_SKIP,
  PART_FILE,
  PART_CAPTION,
} PartKind;

typedef struct
{
  TdFileHost        *host;
  guint64            id;
  SoupServerMessage *msg;            /* owned ref */
  gulong             chunk_handler;
  char              *ip;

  char              *account;        /* registered spelling; NULL: anonymous */
  gboolean           authenticated;
  gboolean           paused;
  gboolean           failed;         /* a response is set; the rest is dropped */
  gint64             content_length; /* as announced; -1: not given */
  gint64             received;       /* request body bytes seen */
  gint64             drained;        /* bytes dropped after failing */

  /* Multipart reader */
  TdFormReader      *form;
  PartKind           part;
  gboolean           have_file;

  /* The file part */
  char              *client_name;
  GString           *caption;
  char              *tmp_path;
  int                fd;
  GChecksum         *sha256;
  gint64             size;
  guint8             head[TD_FILE_HOST_SNIFF_LEN];
  gsize              head_len;
  TdTextCheck        text;           /* valid UTF-8 without NUL so far */
} Upload;

struct _TdFileHost
{
  TdFileHostConfig *config;
  TdRecorder       *recorder;        /* borrowed, nullable */
  TdIrcAccounts    *accounts;        /* borrowed, nullable */
  GMainContext     *context;         /* owned ref while listening */
  SoupServer       *server;
  guint16           port;
  char             *url;
  char             *tmp_dir;
  TdMailboxId       mailbox;
  GSource          *clean_source;
  gboolean          ready;

  GHashTable       *by_hash;         /* hash -> GPtrArray of FileRecord (owned) */
  guint             n_files;
  GHashTable       *usage;           /* casefolded account -> gint64* bytes */
  GHashTable       *uploads;         /* &id -> Upload (owned) */
  guint64           next_upload_id;
};

/* ------------------------------------------------------------------ */
/* Types and names                                                     */
/* ------------------------------------------------------------------ */

typedef struct
{
  const char *type;
  const char *ext;          /* canonical extension */
  const char *exts;         /* every extension that fits, space separated */
  gboolean    inline_ok;    /* shown in a browser rather than saved */
} TypeInfo;

static const TypeInfo type_infos[] = {
  { "image/png",        "png",  "png apng", TRUE },
  { "image/jpeg",       "jpg",  "jpg jpeg jpe jfif", TRUE },
  { "image/gif",        "gif",  "gif", TRUE },
  { "image/webp",       "webp", "webp", TRUE },
  { "application/pdf",  "pdf",  "pdf", FALSE },
  { "application/zip",  "zip",  "zip docx xlsx pptx odt ods odp odg epub cbz", FALSE },
  { "application/gzip", "gz",   "gz tgz", FALSE },
  { "text/plain",       "txt",  NULL, FALSE },
};

/* Extensions that make a text file run or render when opened: such a
 * name gets ".txt" appended. */
static const char *const risky_text_exts[] = {
  "htm", "html", "xhtml", "xht", "shtml", "svg", "svgz", "xml", "xsl", "xslt",
  "js", "mjs", "jse", "hta", "vbs", "vbe", "wsf", "wsh", "ps1", "psm1", "bat",
  "cmd", "com", "exe", "scr", "pif", "msi", "lnk", "url", "reg", "desktop",
  "jar", "swf", "mht", "mhtml", "php", "asp", "aspx", "jsp",
};

static const TypeInfo *
type_info_lookup (const char *type)
{
  for (guint i = 0; i < G_N_ELEMENTS (type_infos); i++)
    if (g_str_equal (type_infos[i].type, type))
      return &type_infos[i];
  return NULL;
}

/* The start of a text that a browser (or a careless viewer) would take
 * for markup: the WHATWG sniffing patterns for HTML, plus SVG and XML. */
static gboolean
looks_like_markup (const guint8 *data,
                   gsize         len)
{
  static const char *const tags[] = {
    "<!doctype html", "<html", "<head", "<script", "<iframe", "<h1", "<div",
    "<font", "<table", "<a", "<style", "<title", "<b", "<body", "<br", "<p",
    "<!--", "<?xml", "<svg", "<img", "<object", "<embed", "<meta", "<link",
    "<form", "<math", "<xsl",
  };
  gsize i = 0;

  if (len >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
    i = 3;
  while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' ||
                     data[i] == '\r' || data[i] == '\f'))
    i++;
  for (guint t = 0; t < G_N_ELEMENTS (tags); t++)
    {
      gsize n = strlen (tags[t]);

      if (len - i >= n && g_ascii_strncasecmp ((const char *) data + i, tags[t], n) == 0)
        {
          /* "<!--" and "<?xml" need no terminator; tags need a space, '>'
           * or '/' (or the end of what we have) after the name. */
          if (tags[t][1] == '!' && tags[t][2] == '-')
            return TRUE;
          if (tags[t][1] == '?')
            return TRUE;
          if (len - i == n)
            return TRUE;
          if (data[i + n] == ' ' || data[i + n] == '>' || data[i + n] == '/' ||
              data[i + n] == '\t' || data[i + n] == '\n' || data[i + n] == '\r')
            return TRUE;
        }
    }
  return FALSE;
}

/* Returns the MIME type of a file that starts with @data (its first @len
 * bytes), or NULL if it is not a type the host accepts. @valid_text says
 * the whole file is UTF-8 without NUL bytes. Markup is never accepted. */
const char *
td_file_sniff_type (const guint8 *data,
                    gsize         len,
                    gboolean      valid_text)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (len >= 8 && memcmp (data, "\x89PNG\r\n\x1a\n", 8) == 0)
    return "image/png";
  if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
    return "image/jpeg";
  if (len >= 6 && (memcmp (data, "GIF87a", 6) == 0 || memcmp (data, "GIF89a", 6) == 0))
    return "image/gif";
  if (len >= 12 && memcmp (data, "RIFF", 4) == 0 && memcmp (data + 8, "WEBP", 4) == 0)
    return "image/webp";
  if (len >= 5 && memcmp (data, "%PDF-", 5) == 0)
    return "application/pdf";
  if (len >= 4 && (memcmp (data, "PK\x03\x04", 4) == 0 || memcmp (data, "PK\x05\x06", 4) == 0))
    return "application/zip";
  if (len >= 3 && data[0] == 0x1F && data[1] == 0x8B && data[2] == 0x08)
    return "application/gzip";
  if (valid_text && len > 0 && !looks_like_markup (data, len))
    return "text/plain";
  return NULL;
}

static gboolean
ext_in_list (const char *ext,
             const char *list)
{
  g_auto(GStrv) exts = g_strsplit (list, " ", -1);

  for (guint i = 0; exts[i] != NULL; i++)
    if (g_ascii_strcasecmp (exts[i], ext) == 0)
      return TRUE;
  return FALSE;
}

/* Characters dropped from names: controls, format characters (bidi
 * overrides that make "gnp.exe" read as "exe.png", zero-width joiners),
 * separators that are not spaces, and unassigned code points. */
static gboolean
name_char_dropped (gunichar c)
{
  GUnicodeType t = g_unichar_type (c);

  return t == G_UNICODE_CONTROL || t == G_UNICODE_FORMAT || t == G_UNICODE_UNASSIGNED ||
         t == G_UNICODE_SURROGATE || t == G_UNICODE_PRIVATE_USE ||
         t == G_UNICODE_LINE_SEPARATOR || t == G_UNICODE_PARAGRAPH_SEPARATOR;
}

/* Cuts @s to at most @max bytes at a character boundary. */
static void
utf8_truncate (GString *s,
               gsize    max)
{
  if (s->len <= max)
    return;
  {
    const char *end = g_utf8_find_prev_char (s->str, s->str + max + 1);

    g_string_truncate (s, end != NULL ? (gsize) (end - s->str) : 0);
  }
}

/* Returns a name that is safe to store, show and put in a URL and a
 * Content-Disposition: the last path component of @name, valid UTF-8,
 * without control or format characters, no leading dot or dash, at most
 * TD_FILE_HOST_MAX_NAME bytes, and with an extension that matches @type
 * (nullable) so that a saved file opens as what it is. */
char *
td_file_sanitize_name (const char *name,
                       const char *type)
{
  g_autofree char *valid = g_utf8_make_valid (name ? name : "", -1);
  const char *base = valid;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GString) stem = NULL;
  g_autofree char *ext = NULL;
  const TypeInfo *info = type ? type_info_lookup (type) : NULL;
  const char *dot;

  for (const char *p = valid; *p != '\0'; p++)
    if (*p == '/' || *p == '\\')
      base = p + 1;

  for (const char *p = base; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_isspace (c) && c != 0x2028 && c != 0x2029)
        c = ' ';
      else if (name_char_dropped (c))
        continue;
      else if (strchr ("<>:\"|?*", (int) c) != NULL && c < 0x80)
        c = '_';
      if (c == ' ' && (out->len == 0 || out->str[out->len - 1] == ' '))
        continue;
      g_string_append_unichar (out, c);
    }

  /* No hidden files, no "..", nothing that reads as an option. */
  while (out->len > 0 && (out->str[0] == '.' || out->str[0] == '-' || out->str[0] == ' '))
    g_string_erase (out, 0, 1);
  while (out->len > 0 && (out->str[out->len - 1] == '.' || out->str[out->len - 1] == ' '))
    g_string_truncate (out, out->len - 1);
  if (out->len == 0)
    g_string_assign (out, "file");

  dot = strrchr (out->str, '.');
  if (dot != NULL && dot != out->str && strlen (dot + 1) <= 16 && strchr (dot + 1, ' ') == NULL)
    {
      ext = g_strdup (dot + 1);
      stem = g_string_new_len (out->str, dot - out->str);
    }
  else
    stem = g_string_new (out->str);

  if (info != NULL && info->exts != NULL)
    {
      /* A binary type: the extension must be one of its own. */
      if (ext == NULL || !ext_in_list (ext, info->exts))
        {
          if (ext != NULL)
            g_string_append_printf (stem, ".%s", ext);
          g_free (ext);
          ext = g_strdup (info->ext);
        }
    }
  else if (info != NULL)
    {
      /* Text: anything but an extension that would run or render. */
      gboolean risky = FALSE;

      for (guint i = 0; ext != NULL && i < G_N_ELEMENTS (risky_text_exts); i++)
        risky |= g_ascii_strcasecmp (ext, risky_text_exts[i]) == 0;
      if (ext == NULL || risky)
        {
          if (ext != NULL)
            g_string_append_printf (stem, ".%s", ext);
          g_free (ext);
          ext = g_strdup (info->ext);
        }
    }

  if (ext != NULL)
    utf8_truncate (stem, TD_FILE_HOST_MAX_NAME - 1 - strlen (ext));
  else
    utf8_truncate (stem, TD_FILE_HOST_MAX_NAME);
  while (stem->len > 0 && (stem->str[stem->len - 1] == ' ' || stem->str[stem->len - 1] == '.'))
    g_string_truncate (stem, stem->len - 1);
  if (stem->len == 0)
    g_string_assign (stem, "file");
  if (ext != NULL)
    g_string_append_printf (stem, ".%s", ext);
  return g_string_free (g_steal_pointer (&stem), FALSE);
}

char *
td_file_store_dir_for_db (const char *db_path)
{
  g_autofree char *dir = NULL;

  g_return_val_if_fail (db_path != NULL, NULL);
  dir = g_path_get_dirname (db_path);
  return g_build_filename (dir, "files", NULL);
}

/* Where the bytes of @hash live: DATA_DIR/ab/cdef... */
static char *
blob_path (const char *data_dir,
           const char *hash)
{
  char prefix[3] = { hash[0], hash[1], '\0' };

  return g_build_filename (data_dir, prefix, hash + 2, NULL);
}

/* ------------------------------------------------------------------ */
/* Config                                                              */
/* ------------------------------------------------------------------ */

TdFileHostConfig *
td_file_host_config_new (void)
{
  TdFileHostConfig *config = g_new0 (TdFileHostConfig, 1);

  config->max_size = TD_FILE_HOST_DEFAULT_MAX_SIZE;
  config->quota = TD_FILE_HOST_DEFAULT_QUOTA;
  config->expiry_days = TD_FILE_HOST_DEFAULT_EXPIRY_DAYS;
  config->clean_interval_ms = TD_FILE_HOST_DEFAULT_CLEAN_INTERVAL_MS;
  return config;
}

TdFileHostConfig *
td_file_host_config_copy (const TdFileHostConfig *config)
{
  TdFileHostConfig *copy = g_memdup2 (config, sizeof *config);

  copy->data_dir = g_strdup (config->data_dir);
  copy->public_url = g_strdup (config->public_url);
  return copy;
}

void
td_file_host_config_free (TdFileHostConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->data_dir);
  g_free (config->public_url);
  g_free (config);
}

/* ------------------------------------------------------------------ */
/* The index: every upload, by hash, and usage per account             */
/* ------------------------------------------------------------------ */

static void
file_record_free (gpointer data)
{
  FileRecord *record = data;

  g_free (record->hash);
  g_free (record->name);
  g_free (record->type);
  g_free (record->uploader);
  g_free (record);
}

static gint64 *
usage_slot (TdFileHost *host,
            const char *account,
            gboolean    create)
{
  g_autofree char *folded = td_irc_casefold (account);
  gint64 *slot = g_hash_table_lookup (host->usage, folded);

  if (slot == NULL && create)
    {
      slot = g_new0 (gint64, 1);
      g_hash_table_insert (host->usage, g_steal_pointer (&folded), slot);
    }
  return slot;
}

static void
index_add (TdFileHost *host,
           FileRecord *record)
{
  GPtrArray *records = g_hash_table_lookup (host->by_hash, record->hash);

  if (records == NULL)
    {
      records = g_ptr_array_new_with_free_func (file_record_free);
      g_hash_table_insert (host->by_hash, g_strdup (record->hash), records);
    }
  g_ptr_array_add (records, record);
  host->n_files++;
  if (record->uploader != NULL)
    *usage_slot (host, record->uploader, TRUE) += record->size;
}

/* The upload of @hash named @name: by @uploader exactly (NULL:
 * anonymous) when @any_uploader is FALSE, by anyone otherwise. */
static FileRecord *
index_find (TdFileHost *host,
            const char *hash,
            const char *name,
            const char *uploader,
            gboolean    any_uploader)
{
  GPtrArray *records = g_hash_table_lookup (host->by_hash, hash);

  for (guint i = 0; records != NULL && i < records->len; i++)
    {
      FileRecord *record = g_ptr_array_index (records, i);

      if (!g_str_equal (record->name, name))
        continue;
      if (any_uploader)
        return record;
      if (uploader == NULL && record->uploader == NULL)
        return record;
      if (uploader != NULL && record->uploader != NULL && td_irc_equal (uploader, record->uploader))
        return record;
    }
  return NULL;
}

#define SQL_FILES_SELECT \
  "SELECT hash, name, type, size, uploader, created, expires FROM files"
#define SQL_FILES_INSERT \
  "INSERT INTO files (hash, name, type, size, uploader, created, expires)" \
  " VALUES (?, ?, ?, ?, ?, ?, ?)"
#define SQL_FILES_DELETE \
  "DELETE FROM files WHERE hash = ? AND name = ? AND created = ? AND uploader IS ?"
#define SQL_FILES_TOUCH \
  "UPDATE files SET expires = ? WHERE hash = ? AND name = ? AND created = ? AND uploader IS ?"

/* Removes @record (taking it out of the index and the database) and, when
 * it was the last upload of its bytes, the file on disk. */
static void
index_remove (TdFileHost *host,
              FileRecord *record)
{
  GPtrArray *records = g_hash_table_lookup (host->by_hash, record->hash);
  g_autofree char *hash = g_strdup (record->hash);

  g_assert (records != NULL);
  if (record->uploader != NULL)
    {
      gint64 *slot = usage_slot (host, record->uploader, FALSE);

      if (slot != NULL)
        *slot = MAX (0, *slot - record->size);
    }
  if (host->recorder != NULL)
    td_recorder_save_values (host->recorder, SQL_FILES_DELETE,
                             TD_TEXT (record->hash), TD_TEXT (record->name),
                             TD_INT (record->created), TD_TEXT (record->uploader));
  host->n_files--;
  g_ptr_array_remove (records, record);
  if (records->len == 0)
    {
      g_autofree char *path = blob_path (host->config->data_dir, hash);

      g_hash_table_remove (host->by_hash, hash);
      if (g_unlink (path) != 0 && errno != ENOENT)
        g_message ("Could not remove %s: %s", path, g_strerror (errno));
    }
}

typedef struct
{
  TdRows   *rows;
  gboolean  done;
} LoadWait;

static void
load_mail_cb (TdMailboxId  id,
              TdMail      *mail,
              gpointer     user_data)
{
  LoadWait *wait = user_data;

  wait->rows = td_mail_steal_data (mail);
  wait->done = TRUE;
}

static gboolean
load_timeout_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Fills the index from the database. Waits (on a private context) for
 * the recorder, which may still be opening the file. */
static void
index_load (TdFileHost *host)
{
  g_autoptr(GMainContext) context = NULL;
  g_autoptr(GSource) timeout = NULL;
  LoadWait wait = { 0 };
  gboolean timed_out = FALSE;
  TdMailboxId box;
  TdRows *rows;

  if (host->recorder == NULL)
    return;

  context = g_main_context_new ();
  box = td_mailbox_open (context, G_PRIORITY_DEFAULT, load_mail_cb, &wait, NULL);
  td_recorder_load (host->recorder, SQL_FILES_SELECT, NULL, 0, box, MAIL_LOADED);
  timeout = g_timeout_source_new (TD_FILE_HOST_LOAD_TIMEOUT_MS);
  g_source_set_callback (timeout, load_timeout_cb, &timed_out, NULL);
  g_source_attach (timeout, context);
  while (!wait.done && !timed_out)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timeout);
  td_mailbox_close (box);

  rows = wait.rows;
  if (rows == NULL || rows->error != NULL)
    {
      g_message ("File index not loaded (%s); serving new uploads only",
                 rows ? rows->error->message : "the database did not answer in time");
      g_clear_pointer (&rows, td_rows_free);
      return;
    }
  for (guint i = 0; i < rows->n_rows; i++)
    {
      const char *hash = td_rows_get_text (rows, i, 0);
      const char *name = td_rows_get_text (rows, i, 1);
      FileRecord *record;

      if (hash == NULL || !td_file_is_hash (hash) || name == NULL)
        continue;
      record = g_new0 (FileRecord, 1);
      record->hash = g_strdup (hash);
      record->name = g_strdup (name);
      record->type = g_strdup (td_rows_get_text (rows, i, 2));
      record->size = td_rows_get_int (rows, i, 3);
      record->uploader = g_strdup (td_rows_get_text (rows, i, 4));
      record->created = td_rows_get_int (rows, i, 5);
      record->expires = td_rows_get_int (rows, i, 6);
      if (record->type == NULL)
        record->type = g_strdup ("application/octet-stream");
      index_add (host, record);
    }
  td_rows_free (rows);
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

static void
set_common_headers (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (headers, "Content-Security-Policy", TD_FILE_HOST_CSP);
  soup_message_headers_replace (headers, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (headers, "X-Frame-Options", "DENY");
}

static void
reply_json (SoupServerMessage *msg,
            guint              status,
            JsonBuilder       *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  gsize len = 0;
  char *text;

  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, &len);
  soup_server_message_set_status (msg, status, NULL);
  set_common_headers (msg);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Cache-Control", "no-store");
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, text, len);
}

/* Answers @status with {"error": @code, "message": ...}. */
static void G_GNUC_PRINTF (4, 5)
reply_error (SoupServerMessage *msg,
             guint              status,
             const char        *code,
             const char        *format,
             ...)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, code);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, message);
  json_builder_end_object (builder);
  reply_json (msg, status, builder);
}

static void
reply_unauthorized (SoupServerMessage *msg,
                    const char        *code,
                    const char        *message)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "WWW-Authenticate",
                                "Basic realm=\"tidingsd files\", charset=\"UTF-8\"");
  reply_error (msg, SOUP_STATUS_UNAUTHORIZED, code, "%s", message);
}

/* ------------------------------------------------------------------ */
/* Uploads: lifetime                                                   */
/* ------------------------------------------------------------------ */

static void
upload_discard_file (Upload *upload)
{
  if (upload->fd >= 0)
    {
      close (upload->fd);
      upload->fd = -1;
    }
  if (upload->tmp_path != NULL)
    {
      g_unlink (upload->tmp_path);
      g_clear_pointer (&upload->tmp_path, g_free);
    }
}

static void
upload_free (gpointer data)
{
  Upload *upload = data;

  upload_discard_file (upload);
  if (upload->msg != NULL)
    {
      if (upload->chunk_handler != 0)
        g_signal_handler_disconnect (upload->msg, upload->chunk_handler);
      g_object_set_data (G_OBJECT (upload->msg), "td-file-upload", NULL);
      /* A message still paused (its password being checked) when the host
       * goes away must not stay paused forever. */
      if (upload->paused)
        soup_server_message_unpause (upload->msg);
      g_object_unref (upload->msg);
    }
  g_free (upload->ip);
  g_free (upload->account);
  g_clear_pointer (&upload->form, td_form_reader_free);
  g_free (upload->client_name);
  if (upload->caption != NULL)
    g_string_free (upload->caption, TRUE);
  g_clear_pointer (&upload->sha256, g_checksum_free);
  g_free (upload);
}

static Upload *
upload_for_message (SoupServerMessage *msg)
{
  return g_object_get_data (G_OBJECT (msg), "td-file-upload");
}

/* Refuses the upload with @status: the temp file goes at once, the rest
 * of the body is read and dropped. */
static void G_GNUC_PRINTF (4, 5)
upload_fail (Upload     *upload,
             guint       status,
             const char *code,
             const char *format,
             ...)
{
  g_autofree char *message = NULL;
  va_list args;

  if (upload->failed)
    return;
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  upload->failed = TRUE;
  upload_discard_file (upload);
  g_clear_pointer (&upload->form, td_form_reader_free);
  reply_error (upload->msg, status, code, "%s", message);
  soup_message_headers_replace (soup_server_message_get_response_headers (upload->msg),
                                "Connection", "close");
}

/* ------------------------------------------------------------------ */
/* Uploads: the file part                                              */
/* ------------------------------------------------------------------ */

static gboolean
file_part_open (Upload *upload)
{
  TdFileHost *host = upload->host;
  g_autoptr(GError) error = NULL;
  g_autofree char *template = g_build_filename (host->tmp_dir, "upload-XXXXXX", NULL);

  upload->fd = g_mkstemp_full (template, O_WRONLY | O_CLOEXEC, 0600);
  if (upload->fd < 0)
    {
      g_message ("Could not create a temp file in %s: %s", host->tmp_dir, g_strerror (errno));
      return FALSE;
    }
  upload->tmp_path = g_steal_pointer (&template);
  upload->sha256 = g_checksum_new (G_CHECKSUM_SHA256);
  td_text_check_init (&upload->text);
  return TRUE;
}

/* File bytes: size check, sniff buffer, hash, UTF-8 check, disk. */
static void
file_part_write (Upload       *upload,
                 const guint8 *data,
                 gsize         len)
{
  TdFileHost *host = upload->host;
  gsize done = 0;

  if (len == 0 || upload->failed)
    return;
  if (upload->size + (gint64) len > host->config->max_size)
    {
      upload_fail (upload, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too_large",
                   "Files may be at most %" G_GINT64_FORMAT " bytes", host->config->max_size);
      return;
    }
  if (upload->head_len < sizeof upload->head)
    {
      gsize n = MIN (len, sizeof upload->head - upload->head_len);

      memcpy (upload->head + upload->head_len, data, n);
      upload->head_len += n;
    }
  g_checksum_update (upload->sha256, data, len);
  td_text_check_feed (&upload->text, data, len);
  upload->size += len;
  while (done < len)
    {
      gssize n = write (upload->fd, data + done, len - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_message ("Could not write an upload to %s: %s", upload->tmp_path, g_strerror (errno));
          upload_fail (upload, SOUP_STATUS_INSUFFICIENT_STORAGE, "storage",
                       "The server could not store the file");
          return;
        }
      done += n;
    }
}

static void
part_data (Upload       *upload,
           const guint8 *data,
           gsize         len)
{
  switch (upload->part)
    {
    case PART_FILE:
      file_part_write (upload, data, len);
      break;
    case PART_CAPTION:
      if (upload->caption->len + len > TD_FILE_HOST_MAX_CAPTION)
        upload_fail (upload, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "caption_too_long",
                     "Captions may be at most %d bytes", TD_FILE_HOST_MAX_CAPTION);
      else
        g_string_append_len (upload->caption, (const char *) data, len);
      break;
    case PART_SKIP:
      break;
    }
}

/* A part begins (the reader has checked its headers): decide where its
 * body goes. */
static void
part_begin (Upload *upload)
{
  switch (td_form_reader_get_field (upload->form))
    {
    case TD_FORM_FIELD_FILE:
      {
        const char *filename = td_form_reader_get_filename (upload->form);

        upload->have_file = TRUE;
        upload->client_name = g_strdup (filename ? filename : "file");
        if (!file_part_open (upload))
          {
            upload_fail (upload, SOUP_STATUS_INSUFFICIENT_STORAGE, "storage",
                         "The server could not store the file");
            return;
          }
        upload->part = PART_FILE;
      }
      break;

    case TD_FORM_FIELD_CAPTION:
      /* The first caption with text is kept; later ones are skipped. */
      if (upload->caption == NULL)
        upload->caption = g_string_new (NULL);
      upload->part = upload->caption->len == 0 ? PART_CAPTION : PART_SKIP;
      break;

    case TD_FORM_FIELD_OTHER:
    default:
      upload->part = PART_SKIP;
      break;
    }
}

/* ------------------------------------------------------------------ */
/* Uploads: the streaming multipart/form-data reader                   */
/* ------------------------------------------------------------------ */

/* Feeds request body bytes through the reader: each part's body goes to
 * part_data(). Only a delimiter's length of bytes is ever held back, so
 * memory stays flat whatever the file's size. */
static void
multipart_feed (Upload       *upload,
                const guint8 *data,
                gsize         len)
{
  td_form_reader_feed (upload->form, data, len);
  while (!upload->failed)
    {
      g_autoptr(GError) error = NULL;
      const guint8 *bytes = NULL;
      gsize n = 0;

      switch (td_form_reader_next (upload->form, &bytes, &n, &error))
        {
        case TD_FORM_NEED_MORE:
        case TD_FORM_DONE:
          return;

        case TD_FORM_PART:
          part_begin (upload);
          break;

        case TD_FORM_DATA:
          part_data (upload, bytes, n);
          break;

        case TD_FORM_PART_END:
          if (upload->part == PART_FILE && upload->fd >= 0)
            {
              close (upload->fd);
              upload->fd = -1;
            }
          upload->part = PART_SKIP;
          break;

        case TD_FORM_ERROR:
        default:
          upload_fail (upload, td_file_request_error_status (error), td_file_request_error_code (error),
                       "%s", error->message);
          return;
        }
    }
}

static void
got_chunk_cb (SoupServerMessage *msg,
              GBytes            *chunk,
              gpointer           user_data)
{
  Upload *upload = user_data;
  TdFileHost *host = upload->host;
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (chunk, &len);

  upload->received += len;
  if (upload->failed)
    {
      /* Keep reading so that the client gets the answer, up to a point. */
      upload->drained += len;
      if (upload->drained > TD_FILE_HOST_DRAIN_MAX)
        {
          GSocket *socket = soup_server_message_get_socket (msg);

          if (socket != NULL)
            g_socket_shutdown (socket, TRUE, TRUE, NULL);
        }
      return;
    }
  if (!upload->authenticated)
    {
      /* Bytes before the password is known: never stored. */
      upload_fail (upload, SOUP_STATUS_UNAUTHORIZED, "auth_required", "Not authenticated");
      return;
    }
  if (upload->received > host->config->max_size + TD_FILE_REQUEST_FORM_OVERHEAD)
    {
      upload_fail (upload, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too_large",
                   "Files may be at most %" G_GINT64_FORMAT " bytes", host->config->max_size);
      return;
    }
  multipart_feed (upload, data, len);
}

/* ------------------------------------------------------------------ */
/* Uploads: commit                                                     */
/* ------------------------------------------------------------------ */

static gint64
account_usage (TdFileHost *host,
               const char *account)
{
  gint64 *slot = account ? usage_slot (host, account, FALSE) : NULL;

  return slot ? *slot : 0;
}

static gint64
expiry_for (TdFileHost *host,
            gint64      now)
{
  if (host->config->expiry_usec > 0)
    return now + host->config->expiry_usec;
  if (host->config->expiry_days > 0)
    return now + (gint64) host->config->expiry_days * 24 * 3600 * G_USEC_PER_SEC;
  return 0;
}

static char *
file_url (TdFileHost *host,
          FileRecord *record)
{
  g_autofree char *escaped = g_uri_escape_string (record->name, NULL, FALSE);

  return g_strdup_printf ("%s/f/%s/%s", host->url, record->hash, escaped);
}

static void
reply_uploaded (TdFileHost *host,
                Upload     *upload,
                FileRecord *record,
                guint       status)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *url = file_url (host, record);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "url");
  json_builder_add_string_value (builder, url);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, record->name);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, record->type);
  json_builder_set_member_name (builder, "size");
  json_builder_add_int_value (builder, record->size);
  json_builder_set_member_name (builder, "sha256");
  json_builder_add_string_value (builder, record->hash);
  if (record->expires != 0)
    {
      json_builder_set_member_name (builder, "expires");
      json_builder_add_int_value (builder, record->expires / G_USEC_PER_SEC);
    }
  if (upload->caption != NULL && upload->caption->len > 0)
    {
      g_autofree char *caption = g_utf8_make_valid (upload->caption->str, upload->caption->len);

      json_builder_set_member_name (builder, "caption");
      json_builder_add_string_value (builder, caption);
    }
  json_builder_end_object (builder);
  reply_json (upload->msg, status, builder);
  soup_message_headers_replace (soup_server_message_get_response_headers (upload->msg), "Location", url);
}

/* The whole body is in: check it, move it into place, record it. */
static void
upload_commit (Upload *upload)
{
  TdFileHost *host = upload->host;
  const char *type;
  g_autofree char *name = NULL;
  g_autofree char *hash = NULL;
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;
  FileRecord *record;
  gboolean text_ok;
  gint64 now = g_get_real_time ();

  if (!td_form_reader_is_done (upload->form))
    {
      upload_fail (upload, SOUP_STATUS_BAD_REQUEST, "bad_form", "The form data ends early");
      return;
    }
  if (!upload->have_file)
    {
      upload_fail (upload, SOUP_STATUS_BAD_REQUEST, "no_file", "The form has no “file” field");
      return;
    }
  if (upload->size == 0)
    {
      upload_fail (upload, SOUP_STATUS_BAD_REQUEST, "empty_file", "The file is empty");
      return;
    }
  text_ok = td_text_check_finish (&upload->text);
  type = td_file_sniff_type (upload->head, upload->head_len, text_ok);
  if (type == NULL)
    {
      if (text_ok)
        upload_fail (upload, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "unsupported_type",
                     "HTML, SVG and XML files are not accepted");
      else
        upload_fail (upload, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "unsupported_type",
                     "Accepted are PNG, JPEG, GIF and WebP images, PDF, zip and gzip files and UTF-8 text");
      return;
    }
  if (host->config->quota >= 0 && upload->account != NULL &&
      account_usage (host, upload->account) + upload->size > host->config->quota)
    {
      upload_fail (upload, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "quota_exceeded",
                   "This upload would take the account over its quota of %" G_GINT64_FORMAT " bytes",
                   host->config->quota);
      return;
    }

  hash = g_strdup (g_checksum_get_string (upload->sha256));
  name = td_file_sanitize_name (upload->client_name, type);

  /* The same file under the same name from the same account: one row,
   * its expiry renewed. */
  record = index_find (host, hash, name, upload->account, FALSE);
  if (record != NULL)
    {
      upload_discard_file (upload);
      record->expires = expiry_for (host, now);
      if (host->recorder != NULL)
        td_recorder_save_values (host->recorder, SQL_FILES_TOUCH,
                                 record->expires ? TD_INT (record->expires) : TD_NULL,
                                 TD_TEXT (record->hash), TD_TEXT (record->name),
                                 TD_INT (record->created), TD_TEXT (record->uploader));
      reply_uploaded (host, upload, record, SOUP_STATUS_OK);
      return;
    }

  path = blob_path (host->config->data_dir, hash);
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0 ||
      (g_file_test (path, G_FILE_TEST_EXISTS) ? g_unlink (upload->tmp_path) : g_rename (upload->tmp_path, path)) != 0)
    {
      g_message ("Could not store an upload as %s: %s", path, g_strerror (errno));
      upload_fail (upload, SOUP_STATUS_INSUFFICIENT_STORAGE, "storage", "The server could not store the file");
      return;
    }
  g_clear_pointer (&upload->tmp_path, g_free);

  record = g_new0 (FileRecord, 1);
  record->hash = g_steal_pointer (&hash);
  record->name = g_steal_pointer (&name);
  record->type = g_strdup (type);
  record->size = upload->size;
  record->uploader = g_strdup (upload->account);
  record->created = now;
  record->expires = expiry_for (host, now);
  index_add (host, record);
  if (host->recorder != NULL)
    td_recorder_save_values (host->recorder, SQL_FILES_INSERT,
                             TD_TEXT (record->hash), TD_TEXT (record->name), TD_TEXT (record->type),
                             TD_INT (record->size), TD_TEXT (record->uploader),
                             TD_INT (record->created),
                             record->expires ? TD_INT (record->expires) : TD_NULL);
  reply_uploaded (host, upload, record, SOUP_STATUS_CREATED);
}

/* ------------------------------------------------------------------ */
/* Uploads: credentials                                                */
/* ------------------------------------------------------------------ */

typedef struct
{
  guint64  upload_id;
  char    *account;
  char    *hash;
  char    *password;
} AuthTask;

static void
auth_task_free (gpointer data)
{
  AuthTask *auth = data;

  if (auth->password != NULL)
    memset (auth->password, 0, strlen (auth->password));
  g_free (auth->password);
  g_free (auth->account);
  g_free (auth->hash);
  g_free (auth);
}

/* argon2id is slow on purpose: never on the server loop. */
static gpointer
auth_worker (TdTask        *task,
             gpointer       task_data,
             GCancellable  *cancellable,
             GError       **error)
{
  AuthTask *auth = task_data;

  if (td_irc_accounts_verify_password (auth->hash, auth->password))
    return GINT_TO_POINTER (1);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "Wrong password");
  return NULL;
}

/* The account is known (or anonymous uploads are on): checks that come
 * before any byte of the body is taken. Returns FALSE if one refused. */
static gboolean
upload_authorized (Upload *upload)
{
  TdFileHost *host = upload->host;

  upload->authenticated = TRUE;
  if (host->config->quota >= 0 && upload->account != NULL)
    {
      gint64 used = account_usage (host, upload->account);
      gint64 length = MAX (upload->content_length, 0);

      if (used >= host->config->quota ||
          used + length > host->config->quota + TD_FILE_REQUEST_FORM_OVERHEAD)
        {
          upload_fail (upload, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "quota_exceeded",
                       "This upload would take the account over its quota of %" G_GINT64_FORMAT " bytes",
                       host->config->quota);
          return FALSE;
        }
    }
  return TRUE;
}

static void
mail_cb (TdMailboxId  id,
         TdMail      *mail,
         gpointer     user_data)
{
  TdFileHost *host = user_data;
  TdTaskResult *result = mail->data;
  AuthTask *auth;
  Upload *upload;

  if (mail->kind != MAIL_AUTH || result == NULL)
    return;
  auth = result->task_data;
  upload = g_hash_table_lookup (host->uploads, &auth->upload_id);
  if (upload == NULL)
    return;   /* the client went away meanwhile */

  if (result->result != NULL)
    {
      upload->account = g_strdup (auth->account);
      upload_authorized (upload);
    }
  else
    {
      if (host->accounts != NULL)
        td_irc_accounts_login_failed (host->accounts, auth->account, upload->ip, g_get_real_time ());
      upload->failed = TRUE;
      upload_discard_file (upload);
      reply_unauthorized (upload->msg, "bad_credentials", "Wrong user name or password");
      soup_message_headers_replace (soup_server_message_get_response_headers (upload->msg),
                                    "Connection", "close");
    }
  upload->paused = FALSE;
  soup_server_message_unpause (upload->msg);
}

/* ------------------------------------------------------------------ */
/* Handlers                                                            */
/* ------------------------------------------------------------------ */

/* Refuses a request that td_file_request_parse() refused. */
static void
reply_refused (SoupServerMessage *msg,
               const GError      *error)
{
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);

  if (g_error_matches (error, TD_FILE_REQUEST_ERROR, TD_FILE_REQUEST_ERROR_BAD_CREDENTIALS))
    {
      reply_unauthorized (msg, td_file_request_error_code (error), error->message);
      return;
    }
  reply_error (msg, td_file_request_error_status (error), td_file_request_error_code (error),
               "%s", error->message);
  if (g_error_matches (error, TD_FILE_REQUEST_ERROR, TD_FILE_REQUEST_ERROR_TOO_LARGE))
    soup_message_headers_replace (response, "Connection", "close");
}

/* POST /upload, after the headers: everything that can be refused
 * without reading the body is refused here. */
static void
upload_start (TdFileHost        *host,
              SoupServerMessage *msg,
              const char        *path)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *ip = soup_server_message_get_remote_host (msg);
  g_autoptr(TdFileRequest) request = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *user = NULL;
  g_autofree char *password = NULL;
  const char *hash = NULL;
  Upload *upload;

  if (!g_str_equal (path, "/upload"))
    return;   /* the normal handler answers */

  request = td_file_request_parse (soup_server_message_get_method (msg), path, headers,
                                   host->config->max_size, &error);
  if (g_error_matches (error, TD_FILE_REQUEST_ERROR, TD_FILE_REQUEST_ERROR_METHOD))
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "POST");
      reply_refused (msg, error);
      return;
    }
  /* Busy comes before anything else about the request is judged. */
  if (g_hash_table_size (host->uploads) >= TD_FILE_HOST_MAX_UPLOADS)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After", "5");
      reply_error (msg, TD_HTTP_TOO_MANY_REQUESTS, "busy", "Too many uploads at once; try again shortly");
      return;
    }
  if (request == NULL)
    {
      reply_refused (msg, error);
      return;
    }
  g_assert (request->kind == TD_FILE_REQUEST_UPLOAD);

  if (request->user == NULL && !host->config->anonymous)
    {
      reply_unauthorized (msg, "auth_required", "Log in with your chat account (HTTP Basic)");
      return;
    }
  if (request->user != NULL)
    {
      const char *account;

      user = g_steal_pointer (&request->user);
      password = g_steal_pointer (&request->password);
      if (host->accounts == NULL)
        {
          memset (password, 0, strlen (password));
          reply_unauthorized (msg, "bad_credentials", "This server has no accounts");
          return;
        }
      if (!td_irc_accounts_login_allowed (host->accounts, user, ip ? ip : "", g_get_real_time ()))
        {
          memset (password, 0, strlen (password));
          soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                        G_STRINGIFY (TD_IRC_LOGIN_FAILURE_WINDOW_S));
          reply_error (msg, TD_HTTP_TOO_MANY_REQUESTS, "too_many_attempts",
                       "Too many failed logins; try again later");
          return;
        }
      account = td_irc_accounts_lookup (host->accounts, user, &hash);
      if (account == NULL)
        {
          memset (password, 0, strlen (password));
          td_irc_accounts_login_failed (host->accounts, user, ip ? ip : "", g_get_real_time ());
          reply_unauthorized (msg, "bad_credentials", "Wrong user name or password");
          return;
        }
      user = (g_free (user), g_strdup (account));
    }

  upload = g_new0 (Upload, 1);
  upload->host = host;
  upload->id = ++host->next_upload_id;
  upload->msg = g_object_ref (msg);
  upload->ip = g_strdup (ip ? ip : "");
  upload->fd = -1;
  upload->content_length = request->content_length;
  upload->form = td_form_reader_new (request->boundary);
  g_hash_table_insert (host->uploads, &upload->id, upload);
  g_object_set_data (G_OBJECT (msg), "td-file-upload", upload);

  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  upload->chunk_handler = g_signal_connect (msg, "got-chunk", G_CALLBACK (got_chunk_cb), upload);

  if (user == NULL)
    {
      upload_authorized (upload);
      return;
    }

  {
    AuthTask *auth = g_new0 (AuthTask, 1);
    TdTask *task;

    auth->upload_id = upload->id;
    auth->account = g_steal_pointer (&user);
    auth->hash = g_strdup (hash);
    auth->password = g_steal_pointer (&password);
    task = td_task_new (auth_worker, auth, auth_task_free, NULL);
    td_task_set_reply (task, host->mailbox, MAIL_AUTH);
    upload->paused = TRUE;
    soup_server_message_pause (msg);
    td_task_loop_push (td_task_loop_get_default (), task);
  }
}

static void
drain_chunk_cb (SoupServerMessage *msg,
                GBytes            *chunk,
                gpointer           user_data)
{
  gint64 *drained = user_data;

  *drained += g_bytes_get_size (chunk);
  if (*drained > TD_FILE_HOST_DRAIN_MAX)
    {
      GSocket *socket = soup_server_message_get_socket (msg);

      if (socket != NULL)
        g_socket_shutdown (socket, TRUE, TRUE, NULL);
    }
}

/* A request refused before its body: with "Expect: 100-continue" libsoup
 * answers at once and the body is never sent. Otherwise HTTP/1.1 leaves
 * no way to answer before the body is read, so it is read and dropped
 * (never stored), and past TD_FILE_HOST_DRAIN_MAX the connection is cut. */
static void
drain_refused_body (SoupServerMessage *msg)
{
  gint64 *drained = g_new0 (gint64, 1);

  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  g_object_set_data_full (G_OBJECT (msg), "td-file-drained", drained, g_free);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (drain_chunk_cb), drained);
}

static void
upload_early_cb (SoupServer        *server,
                 SoupServerMessage *msg,
                 const char        *path,
                 GHashTable        *query,
                 gpointer           user_data)
{
  upload_start (user_data, msg, path);
  if (soup_server_message_get_status (msg) != 0 && upload_for_message (msg) == NULL)
    drain_refused_body (msg);
}

static void
serve_file (TdFileHost        *host,
            SoupServerMessage *msg,
            const char        *path)
{
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);
  g_autoptr(TdFileRequest) request = NULL;
  g_autofree char *blob = NULL;
  g_autofree char *etag = NULL;
  g_autofree char *ascii = NULL;
  g_autofree char *escaped = NULL;
  g_autofree char *disposition = NULL;
  g_autoptr(GMappedFile) mapped = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  const TypeInfo *info;
  FileRecord *record;
  const char *if_none_match;

  request = td_file_request_parse (soup_server_message_get_method (msg), path,
                                   soup_server_message_get_request_headers (msg),
                                   host->config->max_size, &error);
  if (request == NULL)
    {
      if (g_error_matches (error, TD_FILE_REQUEST_ERROR, TD_FILE_REQUEST_ERROR_METHOD))
        soup_message_headers_replace (response, "Allow", "GET, HEAD");
      reply_refused (msg, error);
      return;
    }
  g_assert (request->kind == TD_FILE_REQUEST_DOWNLOAD);
  record = index_find (host, request->hash, request->name, NULL, TRUE);
  if (record == NULL || (record->expires != 0 && record->expires <= g_get_real_time ()))
    {
      reply_error (msg, SOUP_STATUS_NOT_FOUND, "not_found", "No such file (it may have expired)");
      return;
    }

  etag = g_strdup_printf ("\"%s\"", record->hash);
  set_common_headers (msg);
  soup_message_headers_replace (response, "Cache-Control", TD_FILE_HOST_CACHE_CONTROL);
  soup_message_headers_replace (response, "ETag", etag);
  if_none_match = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "If-None-Match");
  if (if_none_match != NULL && strstr (if_none_match, etag) != NULL)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_MODIFIED, NULL);
      return;
    }

  blob = blob_path (host->config->data_dir, record->hash);
  mapped = g_mapped_file_new (blob, FALSE, &error);
  if (mapped == NULL)
    {
      g_message ("Could not read %s: %s", blob, error->message);
      reply_error (msg, SOUP_STATUS_NOT_FOUND, "not_found", "The file is gone");
      return;
    }
  bytes = g_mapped_file_get_bytes (mapped);

  /* RFC 6266: an ASCII fallback and the exact name as filename*. */
  info = type_info_lookup (record->type);
  ascii = g_str_to_ascii (record->name, "C");
  g_strdelimit (ascii, "\"\\;%", '_');
  escaped = g_uri_escape_string (record->name, NULL, FALSE);
  disposition = g_strdup_printf ("%s; filename=\"%s\"; filename*=UTF-8''%s",
                                 info && info->inline_ok ? "inline" : "attachment", ascii, escaped);
  soup_message_headers_replace (response, "Content-Disposition", disposition);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_set_content_type (response,
                                         g_str_equal (record->type, "text/plain")
                                         ? "text/plain; charset=utf-8" : record->type, NULL);
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg), bytes);
}

static void
handler_cb (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  TdFileHost *host = user_data;
  Upload *upload = upload_for_message (msg);

  if (upload != NULL)
    {
      if (!upload->failed)
        upload_commit (upload);
      return;
    }
  if (g_str_has_prefix (path, "/f/"))
    {
      serve_file (host, msg, path);
      return;
    }
  reply_error (msg, SOUP_STATUS_NOT_FOUND, "not_found", "Nothing here; uploads go to POST /upload");
}

static void
request_done_cb (SoupServer        *server,
                 SoupServerMessage *msg,
                 gpointer           user_data)
{
  TdFileHost *host = user_data;
  Upload *upload = upload_for_message (msg);

  /* Finished or aborted (a truncated upload): the temp file, if any,
   * goes with it. */
  if (upload != NULL)
    g_hash_table_remove (host->uploads, &upload->id);
}

/* ------------------------------------------------------------------ */
/* Expiry                                                              */
/* ------------------------------------------------------------------ */

/* Removes every upload whose time is over; returns how many. */
guint
td_file_host_clean_expired (TdFileHost *host)
{
  g_autoptr(GPtrArray) expired = g_ptr_array_new ();
  gint64 now = g_get_real_time ();
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (host != NULL, 0);

  g_hash_table_iter_init (&iter, host->by_hash);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      GPtrArray *records = value;

      for (guint i = 0; i < records->len; i++)
        {
          FileRecord *record = g_ptr_array_index (records, i);

          if (record->expires != 0 && record->expires <= now)
            g_ptr_array_add (expired, record);
        }
    }
  for (guint i = 0; i < expired->len; i++)
    index_remove (host, g_ptr_array_index (expired, i));
  return expired->len;
}

static gboolean
clean_cb (gpointer user_data)
{
  td_file_host_clean_expired (user_data);
  return G_SOURCE_CONTINUE;
}

/* Removes every upload of @account (files shared by others stay);
 * returns how many. Call on the host's context. */
guint
td_file_host_delete_account_files (TdFileHost *host,
                                   const char *account)
{
  g_autoptr(GPtrArray) doomed = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (host != NULL, 0);
  g_return_val_if_fail (account != NULL, 0);

  g_hash_table_iter_init (&iter, host->by_hash);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      GPtrArray *records = value;

      for (guint i = 0; i < records->len; i++)
        {
          FileRecord *record = g_ptr_array_index (records, i);

          if (record->uploader != NULL && td_irc_equal (record->uploader, account))
            g_ptr_array_add (doomed, record);
        }
    }
  for (guint i = 0; i < doomed->len; i++)
    index_remove (host, g_ptr_array_index (doomed, i));
  return doomed->len;
}

/* ------------------------------------------------------------------ */
/* Offline deletion (tidingsd account delete-files)                    */
/* ------------------------------------------------------------------ */

typedef struct
{
  char      *account;
  GPtrArray *orphans;    /* hashes no row refers to any more */
  int        n_deleted;
} DeleteJob;

static void
delete_job_free (gpointer data)
{
  DeleteJob *job = data;

  g_free (job->account);
  g_clear_pointer (&job->orphans, g_ptr_array_unref);
  g_free (job);
}

static gpointer
delete_account_load (TdStoreConn  *conn,
                     gpointer      data,
                     GError      **error)
{
  DeleteJob *job = data;
  g_autoptr(TdRows) rows = NULL;
  g_autoptr(GHashTable) touched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer key;

  rows = td_store_conn_query (conn, "SELECT hash, name, created, uploader FROM files"
                              " WHERE uploader IS NOT NULL", NULL, 0, error);
  if (rows == NULL)
    return NULL;
  if (!td_store_conn_exec (conn, "BEGIN", NULL, 0, error))
    return NULL;
  for (guint i = 0; i < rows->n_rows; i++)
    {
      const char *uploader = td_rows_get_text (rows, i, 3);
      const char *hash = td_rows_get_text (rows, i, 0);

      if (uploader == NULL || hash == NULL || !td_irc_equal (uploader, job->account))
        continue;
      if (!td_store_conn_exec (conn, SQL_FILES_DELETE,
                               (const TdValue[]) { TD_TEXT (hash), TD_TEXT (td_rows_get_text (rows, i, 1)),
                                                   TD_INT (td_rows_get_int (rows, i, 2)), TD_TEXT (uploader) },
                               4, error))
        {
          td_store_conn_exec (conn, "ROLLBACK", NULL, 0, NULL);
          return NULL;
        }
      job->n_deleted++;
      g_hash_table_add (touched, g_strdup (hash));
    }
  if (!td_store_conn_exec (conn, "COMMIT", NULL, 0, error))
    {
      td_store_conn_exec (conn, "ROLLBACK", NULL, 0, NULL);
      return NULL;
    }

  job->orphans = g_ptr_array_new_with_free_func (g_free);
  g_hash_table_iter_init (&iter, touched);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_autoptr(TdRows) left = td_store_conn_query (conn, "SELECT COUNT (*) FROM files WHERE hash = ?",
                                                    (const TdValue[]) { TD_TEXT (key) }, 1, error);

      if (left == NULL)
        return NULL;
      if (td_rows_get_int (left, 0, 0) == 0)
        g_ptr_array_add (job->orphans, g_strdup (key));
    }
  return GINT_TO_POINTER (1);
}

typedef struct
{
  TdStoreResult *result;
  gboolean       done;
} DeleteWait;

static void
delete_mail_cb (TdMailboxId  id,
                TdMail      *mail,
                gpointer     user_data)
{
  DeleteWait *wait = user_data;

  wait->result = td_mail_steal_data (mail);
  wait->done = TRUE;
}

int
td_file_store_delete_account (const char  *db_path,
                              const char  *data_dir,
                              const char  *account,
                              GError     **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(TdRecorder) recorder = NULL;
  DeleteWait wait = { 0 };
  DeleteJob *job;
  TdMailboxId box;
  int n;

  g_return_val_if_fail (db_path != NULL && data_dir != NULL && account != NULL, -1);

  if (!g_file_test (db_path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "No database at %s", db_path);
      return -1;
    }
  recorder = td_recorder_new (db_path, td_schema_server ());
  box = td_mailbox_open (context, G_PRIORITY_DEFAULT, delete_mail_cb, &wait, NULL);
  job = g_new0 (DeleteJob, 1);
  job->account = g_strdup (account);
  /* The job stays alive with the request: its fields are read below. */
  td_recorder_load_func (recorder, delete_account_load, job, NULL, NULL, box, 1);
  while (!wait.done)
    g_main_context_iteration (context, TRUE);
  td_mailbox_close (box);

  if (wait.result->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&wait.result->error));
      td_store_result_free (wait.result);
      delete_job_free (job);
      return -1;
    }
  td_store_result_free (wait.result);
  for (guint i = 0; job->orphans != NULL && i < job->orphans->len; i++)
    {
      g_autofree char *path = blob_path (data_dir, g_ptr_array_index (job->orphans, i));

      if (g_unlink (path) != 0 && errno != ENOENT)
        g_message ("Could not remove %s: %s", path, g_strerror (errno));
    }
  n = job->n_deleted;
  delete_job_free (job);
  if (!td_recorder_close (recorder, error))
    return -1;
  return n;
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

TdFileHost *
td_file_host_new (const TdFileHostConfig *config,
                  TdRecorder             *recorder,
                  TdIrcAccounts          *accounts)
{
  TdFileHost *host;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (config->data_dir != NULL, NULL);

  host = g_new0 (TdFileHost, 1);
  host->config = td_file_host_config_copy (config);
  if (host->config->max_size <= 0)
    host->config->max_size = TD_FILE_HOST_DEFAULT_MAX_SIZE;
  if (host->config->quota == 0)
    host->config->quota = TD_FILE_HOST_DEFAULT_QUOTA;
  if (host->config->expiry_days < 0)
    host->config->expiry_days = TD_FILE_HOST_DEFAULT_EXPIRY_DAYS;
  if (host->config->clean_interval_ms == 0)
    host->config->clean_interval_ms = TD_FILE_HOST_DEFAULT_CLEAN_INTERVAL_MS;
  host->recorder = recorder;
  host->accounts = accounts;
  host->tmp_dir = g_build_filename (host->config->data_dir, "tmp", NULL);
  host->by_hash = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) g_ptr_array_unref);
  host->usage = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  host->uploads = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, upload_free);
  return host;
}

/* Leftovers of uploads cut short by a crash. */
static void
clear_tmp_dir (const char *tmp_dir)
{
  g_autoptr(GDir) dir = g_dir_open (tmp_dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "upload-"))
      {
        g_autofree char *path = g_build_filename (tmp_dir, name, NULL);

        g_unlink (path);
      }
}

static char *
base_url (const char *address,
          guint16     port)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (address);

  /* A wildcard address is no place to fetch from; loopback is right for
   * the desktop, and public_url is there for the rest. */
  if (inet != NULL && g_inet_address_get_is_any (inet))
    return g_strdup_printf (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6
                            ? "http://[::1]:%u" : "http://127.0.0.1:%u", port);
  if (inet != NULL && g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("http://[%s]:%u", address, port);
  return g_strdup_printf ("http://%s:%u", address, port);
}

/* Loads the index, binds @address:@port (0: any free port) and serves on
 * @context (NULL: the thread-default one). Returns FALSE with @error set
 * when the address cannot be bound or the data directory not created. */
gboolean
td_file_host_listen (TdFileHost    *host,
                     GMainContext  *context,
                     const char    *address,
                     int            port,
                     GError       **error)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) sockaddr = NULL;
  GSList *listeners;

  g_return_val_if_fail (host != NULL, FALSE);
  g_return_val_if_fail (host->server == NULL, FALSE);
  g_return_val_if_fail (port >= 0 && port <= 65535, FALSE);

  if (address == NULL)
    address = "127.0.0.1";
  inet = g_inet_address_new_from_string (address);
  if (inet == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "“%s” is not an IP address", address);
      return FALSE;
    }
  if (g_mkdir_with_parents (host->tmp_dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "File host: cannot create %s: %s", host->tmp_dir, g_strerror (saved));
      return FALSE;
    }
  clear_tmp_dir (host->tmp_dir);

  host->context = context ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  g_main_context_push_thread_default (host->context);
  host->server = soup_server_new ("server-header", "tidingsd", NULL);
  sockaddr = g_inet_socket_address_new (inet, port);
  if (!soup_server_listen (host->server, sockaddr, 0, error))
    {
      g_prefix_error (error, "File host on %s:%d: ", address, port);
      g_clear_object (&host->server);
      g_main_context_pop_thread_default (host->context);
      g_clear_pointer (&host->context, g_main_context_unref);
      return FALSE;
    }
  g_main_context_pop_thread_default (host->context);

  listeners = soup_server_get_listeners (host->server);
  if (listeners != NULL)
    {
      g_autoptr(GSocketAddress) local = g_socket_get_local_address (listeners->data, NULL);

      if (local != NULL)
        host->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
    }
  g_slist_free (listeners);
  host->url = host->config->public_url
              ? g_strdup (host->config->public_url)
              : base_url (address, host->port);
  while (g_str_has_suffix (host->url, "/"))
    host->url[strlen (host->url) - 1] = '\0';

  index_load (host);
  td_file_host_clean_expired (host);

  /* One entry for every path: libsoup pairs early and normal handlers by
   * path, and each picks its requests itself. */
  soup_server_add_early_handler (host->server, NULL, upload_early_cb, host, NULL);
  soup_server_add_handler (host->server, NULL, handler_cb, host, NULL);
  g_signal_connect (host->server, "request-finished", G_CALLBACK (request_done_cb), host);
  g_signal_connect (host->server, "request-aborted", G_CALLBACK (request_done_cb), host);
  host->mailbox = td_mailbox_open (host->context, G_PRIORITY_DEFAULT, mail_cb, host, NULL);
  host->clean_source = g_timeout_source_new (host->config->clean_interval_ms);
  g_source_set_callback (host->clean_source, clean_cb, host, NULL);
  g_source_attach (host->clean_source, host->context);
  g_atomic_int_set (&host->ready, TRUE);
  return TRUE;
}

guint16
td_file_host_get_port (TdFileHost *host)
{
  g_return_val_if_fail (host != NULL, 0);
  return host->port;
}

/* The base URL clients upload to and that FILEHOST advertises, without
 * a trailing slash; NULL before td_file_host_listen(). */
const char *
td_file_host_get_url (TdFileHost *host)
{
  g_return_val_if_fail (host != NULL, NULL);
  return host->url;
}

gboolean
td_file_host_is_ready (TdFileHost *host)
{
  g_return_val_if_fail (host != NULL, FALSE);
  return g_atomic_int_get (&host->ready);
}

/* Uploads on record (each name of a file counts). Host context only. */
guint
td_file_host_get_n_files (TdFileHost *host)
{
  g_return_val_if_fail (host != NULL, 0);
  return host->n_files;
}

/* Bytes counted against @account's quota. Host context only. */
gint64
td_file_host_get_usage (TdFileHost *host,
                        const char *account)
{
  g_return_val_if_fail (host != NULL, 0);
  return account_usage (host, account);
}

/* Closes the listener and every connection; uploads in progress are
 * dropped with their temp files. Run on the host's context thread, or
 * after it stopped. */
void
td_file_host_stop (TdFileHost *host)
{
  g_return_if_fail (host != NULL);

  g_atomic_int_set (&host->ready, FALSE);
  if (host->mailbox != TD_MAILBOX_NONE)
    {
      td_mailbox_close (host->mailbox);
      host->mailbox = TD_MAILBOX_NONE;
    }
  if (host->clean_source != NULL)
    {
      g_source_destroy (host->clean_source);
      g_clear_pointer (&host->clean_source, g_source_unref);
    }
  if (host->server != NULL)
    {
      g_main_context_push_thread_default (host->context);
      g_signal_handlers_disconnect_by_data (host->server, host);
      g_hash_table_remove_all (host->uploads);
      soup_server_disconnect (host->server);
      g_clear_object (&host->server);
      g_main_context_pop_thread_default (host->context);
    }
  g_hash_table_remove_all (host->uploads);
  g_clear_pointer (&host->context, g_main_context_unref);
}

void
td_file_host_free (TdFileHost *host)
{
  if (host == NULL)
    return;
  td_file_host_stop (host);
  g_hash_table_unref (host->uploads);
  g_hash_table_unref (host->by_hash);
  g_hash_table_unref (host->usage);
  g_free (host->url);
  g_free (host->tmp_dir);
  td_file_host_config_free (host->config);
  g_free (host);
}
