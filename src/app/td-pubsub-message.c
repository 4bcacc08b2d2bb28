/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-pubsub-message"

#include "config.h"

#include <string.h>
#include <json-glib/json-glib.h>

#include "app/td-pubsub-message.h"

struct _TdPubsubMessageItem
{
  GObject          parent_instance;

  TdPubsubMessage *message;      /* owned */
  char            *display;      /* owned; formatted on first use */
  TdPayloadFormat  format;
  char            *folded;       /* owned; casefolded payload text for the filter */
  gboolean         logged;       /* read back from the capture log */
};

G_DEFINE_FINAL_TYPE (TdPubsubMessageItem, td_pubsub_message_item, G_TYPE_OBJECT)

/* Returns how many bytes of the UTF-8 text @data (@len bytes) fit in
 * @max without cutting a character. */
static gsize
utf8_cut (const char *data,
          gsize       len,
          gsize       max)
{
  gsize end = MIN (len, max);

  while (end > 0 && end < len && ((guchar) data[end] & 0xc0) == 0x80)
    end--;
  return end;
}

/* Returns a hex dump of @data: 16 bytes a line, offset, hex, then the
 * printable ASCII. */
static char *
hex_dump (const guint8 *data,
          gsize         len)
{
  GString *out = g_string_sized_new (len * 4 + 16);

  for (gsize line = 0; line < len; line += 16)
    {
      gsize n = MIN (16, len - line);

      if (line > 0)
        g_string_append_c (out, '\n');
      g_string_append_printf (out, "%08" G_GSIZE_MODIFIER "x  ", line);
      for (gsize i = 0; i < 16; i++)
        {
          if (i < n)
            g_string_append_printf (out, "%02x ", data[line + i]);
          else
            g_string_append (out, "   ");
          if (i == 7)
            g_string_append_c (out, ' ');
        }
      g_string_append (out, " |");
      for (gsize i = 0; i < n; i++)
        g_string_append_c (out, g_ascii_isprint (data[line + i]) ? (char) data[line + i] : '.');
      g_string_append_c (out, '|');
    }
  return g_string_free (out, FALSE);
}

/* Returns TRUE if @data (@len bytes) is shown as text: UTF-8 without
 * control characters other than whitespace. Any thread. */
gboolean
td_payload_is_text (const char *data,
                    gsize       len)
{
  if (len == 0)
    return TRUE;
  if (data == NULL || !g_utf8_validate_len (data, len, NULL))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if ((guchar) data[i] < 0x20 && data[i] != '\n' && data[i] != '\r' && data[i] != '\t')
      return FALSE;
  return TRUE;
}

/* Returns @payload as display text and sets @format: pretty JSON when it
 * is a JSON object or array, the text when it is UTF-8 without control
 * characters other than whitespace, a hex dump otherwise. Long payloads
 * are cut at TD_PAYLOAD_DISPLAY_MAX with an ellipsis. */
char *
td_payload_format (GBytes          *payload,
                   TdPayloadFormat *format)
{
  gsize len;
  const char *data = g_bytes_get_data (payload, &len);
  gboolean text;
  gboolean cut = len > TD_PAYLOAD_DISPLAY_MAX;
  gsize shown = cut ? TD_PAYLOAD_DISPLAY_MAX : len;

  g_return_val_if_fail (payload != NULL, NULL);

  if (data == NULL)
    data = "";

  text = td_payload_is_text (data, len);

  if (!text)
    {
      g_autofree char *dump = hex_dump ((const guint8 *) data, MIN (len, TD_PAYLOAD_DISPLAY_MAX / 4));

      *format = TD_PAYLOAD_BINARY;
      return len > TD_PAYLOAD_DISPLAY_MAX / 4 ? g_strconcat (dump, "\n…", NULL) : g_steal_pointer (&dump);
    }

  /* Only objects and arrays: a bare number or string is clearer as text. */
  if (len >= 2 && !cut)
    {
      const char *p = data;

      while (g_ascii_isspace (*p))
        p++;
      if (*p == '{' || *p == '[')
        {
          g_autoptr(JsonParser) parser = json_parser_new ();

          if (json_parser_load_from_data (parser, data, (gssize) len, NULL))
            {
              g_autoptr(JsonGenerator) generator = json_generator_new ();

              json_generator_set_root (generator, json_parser_get_root (parser));
              json_generator_set_pretty (generator, TRUE);
              json_generator_set_indent (generator, 2);
              *format = TD_PAYLOAD_JSON;
              return json_generator_to_data (generator, NULL);
            }
        }
    }

  *format = TD_PAYLOAD_TEXT;
  if (cut)
    {
      g_autofree char *head = g_strndup (data, utf8_cut (data, len, shown));

      return g_strconcat (head, "…", NULL);
    }
  return g_strndup (data, len);
}

static void
td_pubsub_message_item_finalize (GObject *object)
{
  TdPubsubMessageItem *self = TD_PUBSUB_MESSAGE_ITEM (object);

  g_clear_pointer (&self->message, td_pubsub_message_free);
  g_clear_pointer (&self->display, g_free);
  g_clear_pointer (&self->folded, g_free);

  G_OBJECT_CLASS (td_pubsub_message_item_parent_class)->finalize (object);
}

static void
td_pubsub_message_item_class_init (TdPubsubMessageItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = td_pubsub_message_item_finalize;
}

static void
td_pubsub_message_item_init (TdPubsubMessageItem *self)
{
}

/* Returns an item that takes ownership of @message. */
TdPubsubMessageItem *
td_pubsub_message_item_new (TdPubsubMessage *message)
{
  TdPubsubMessageItem *self;

  g_return_val_if_fail (message != NULL, NULL);

  self = g_object_new (TD_TYPE_PUBSUB_MESSAGE_ITEM, NULL);
  self->message = message;
  return self;
}

/* Returns an item for a message read back from the capture log; it
 * takes ownership of @message. */
TdPubsubMessageItem *
td_pubsub_message_item_new_logged (TdPubsubMessage *message)
{
  TdPubsubMessageItem *self = td_pubsub_message_item_new (message);

  if (self != NULL)
    self->logged = TRUE;
  return self;
}

gboolean
td_pubsub_message_item_get_logged (TdPubsubMessageItem *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_MESSAGE_ITEM (self), FALSE);
  return self->logged;
}

gint64
td_pubsub_message_item_get_time (TdPubsubMessageItem *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_MESSAGE_ITEM (self), 0);
  return self->message->time;
}

const char *
td_pubsub_message_item_get_channel (TdPubsubMessageItem *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_MESSAGE_ITEM (self), NULL);
  return self->message->channel;
}

const char *
td_pubsub_message_item_get_pattern (TdPubsubMessageItem *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_MESSAGE_ITEM (self), NULL);
  return self->message->pattern;
}

GBytes *
td_pubsub_message_item_get_payload (TdPubsubMessageItem *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_MESSAGE_ITEM (self), NULL);
  return self->message->payload;
}

static void
ensure_display (TdPubsubMessageItem *self)
{
  if (self->display == NULL)
    self->display = td_payload_format (self->message->payload, &self->format);
}

const char *
td_pubsub_message_item_get_display (TdPubsubMessageItem *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_MESSAGE_ITEM (self), NULL);
  ensure_display (self);
  return self->display;
}

TdPayloadFormat
td_pubsub_message_item_get_format (TdPubsubMessageItem *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_MESSAGE_ITEM (self), TD_PAYLOAD_TEXT);
  ensure_display (self);
  return self->format;
}

/* Returns TRUE if the payload (as text) contains @folded_text, which
 * must already be casefolded. The folded payload is kept for the next
 * filter change. */
gboolean
td_pubsub_message_item_contains (TdPubsubMessageItem *self,
                                 const char          *folded_text)
{
  g_return_val_if_fail (TD_IS_PUBSUB_MESSAGE_ITEM (self), FALSE);

  if (folded_text == NULL || *folded_text == '\0')
    return TRUE;
  if (self->folded == NULL)
    {
      gsize len;
      const char *data = g_bytes_get_data (self->message->payload, &len);

      gsize n = data != NULL ? utf8_cut (data, len, TD_PAYLOAD_DISPLAY_MAX) : 0;

      if (n > 0 && g_utf8_validate_len (data, n, NULL))
        self->folded = g_utf8_casefold (data, (gssize) n);
      else
        self->folded = g_strdup ("");
    }
  return strstr (self->folded, folded_text) != NULL;
}
