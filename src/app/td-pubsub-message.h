/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "pubsub/td-pubsub-client.h"

G_BEGIN_DECLS

/*
 * TdPubsubMessageItem: one received message as a list item of the live
 * view. The payload is formatted for display on first use (most items of
 * a big ring are never shown) and the result kept. A "logged" item was
 * read back from captured traffic in the database rather than received
 * live.
 */

typedef enum
{
  TD_PAYLOAD_TEXT,      /* valid UTF-8, shown as is */
  TD_PAYLOAD_JSON,      /* a JSON object or array, pretty-printed */
  TD_PAYLOAD_BINARY,    /* anything else, shown as a hex dump */
} TdPayloadFormat;

/* Payloads longer than this are cut for display (the item keeps all
 * bytes): a label with megabytes of text would stall layout. */
#define TD_PAYLOAD_DISPLAY_MAX (16 * 1024)

#define TD_TYPE_PUBSUB_MESSAGE_ITEM (td_pubsub_message_item_get_type ())

G_DECLARE_FINAL_TYPE (TdPubsubMessageItem, td_pubsub_message_item, TD, PUBSUB_MESSAGE_ITEM, GObject)

TdPubsubMessageItem *td_pubsub_message_item_new          (TdPubsubMessage     *message);
TdPubsubMessageItem *td_pubsub_message_item_new_logged   (TdPubsubMessage     *message);
gboolean             td_pubsub_message_item_get_logged   (TdPubsubMessageItem *self);
gint64               td_pubsub_message_item_get_time     (TdPubsubMessageItem *self);
const char          *td_pubsub_message_item_get_channel  (TdPubsubMessageItem *self);
const char          *td_pubsub_message_item_get_pattern  (TdPubsubMessageItem *self);
GBytes              *td_pubsub_message_item_get_payload  (TdPubsubMessageItem *self);
const char          *td_pubsub_message_item_get_display  (TdPubsubMessageItem *self);
TdPayloadFormat      td_pubsub_message_item_get_format   (TdPubsubMessageItem *self);
gboolean             td_pubsub_message_item_contains     (TdPubsubMessageItem *self,
                                                          const char          *folded_text);

char                *td_payload_format                   (GBytes              *payload,
                                                          TdPayloadFormat     *format);
gboolean             td_payload_is_text                  (const char          *data,
                                                          gsize                len);

G_END_DECLS
