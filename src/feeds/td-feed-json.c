/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-feed-json"

#include "config.h"

#include "feeds/td-feed-json.h"

static void
add_string (JsonBuilder *b,
            const char  *key,
            const char  *value)
{
  if (value == NULL)
    return;
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, value);
}

static void
add_length (JsonBuilder *b,
            const char  *key,
            gint64       value)
{
  if (value < 0)
    return;
  json_builder_set_member_name (b, key);
  json_builder_add_int_value (b, value);
}

static void
add_date (JsonBuilder *b,
          const char  *key,
          gint64       date)
{
  char buf[32];

  if (date == TD_FEED_DATE_NONE)
    return;

  json_builder_set_member_name (b, key);
  if (td_feed_date_format (date, buf))
    json_builder_add_string_value (b, buf);
  else
    json_builder_add_null_value (b);
}

static void
add_entry (JsonBuilder       *b,
           const TdFeedEntry *e)
{
  json_builder_begin_object (b);

  add_string (b, "title", e->title);
  if (e->title != NULL)
    add_string (b, "title_type", td_feed_text_type_to_string (e->title_type));
  add_string (b, "link", e->link);

  if (e->links != NULL && e->links->len > 0)
    {
      json_builder_set_member_name (b, "links");
      json_builder_begin_array (b);
      for (guint i = 0; i < e->links->len; i++)
        {
          const TdFeedLink *l = g_ptr_array_index (e->links, i);

          json_builder_begin_object (b);
          add_string (b, "rel", l->rel);
          add_string (b, "type", l->type);
          add_string (b, "href", l->href);
          add_length (b, "length", l->length);
          add_string (b, "title", l->title);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }

  add_string (b, "id", e->id);
  add_string (b, "subtitle", e->subtitle);
  add_string (b, "summary", e->summary);
  if (e->summary != NULL)
    add_string (b, "summary_type", td_feed_text_type_to_string (e->summary_type));

  if (e->content != NULL && e->content->len > 0)
    {
      json_builder_set_member_name (b, "content");
      json_builder_begin_array (b);
      for (guint i = 0; i < e->content->len; i++)
        {
          const TdFeedContent *c = g_ptr_array_index (e->content, i);

          json_builder_begin_object (b);
          add_string (b, "type", c->type);
          add_string (b, "value", c->value);
          add_string (b, "language", c->language);
          add_string (b, "src", c->src);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }

  add_date (b, "published", e->published);
  add_date (b, "updated", e->updated);

  if (e->authors != NULL && e->authors->len > 0)
    {
      json_builder_set_member_name (b, "authors");
      json_builder_begin_array (b);
      for (guint i = 0; i < e->authors->len; i++)
        {
          const TdFeedPerson *a = g_ptr_array_index (e->authors, i);

          json_builder_begin_object (b);
          add_string (b, "name", a->name);
          add_string (b, "email", a->email);
          add_string (b, "uri", a->uri);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }

  if (e->categories != NULL && e->categories->len > 0)
    {
      json_builder_set_member_name (b, "categories");
      json_builder_begin_array (b);
      for (guint i = 0; i < e->categories->len; i++)
        {
          const TdFeedCategory *c = g_ptr_array_index (e->categories, i);

          json_builder_begin_object (b);
          add_string (b, "term", c->term);
          add_string (b, "scheme", c->scheme);
          add_string (b, "label", c->label);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }

  if (e->enclosures != NULL && e->enclosures->len > 0)
    {
      json_builder_set_member_name (b, "enclosures");
      json_builder_begin_array (b);
      for (guint i = 0; i < e->enclosures->len; i++)
        {
          const TdFeedEnclosure *enc = g_ptr_array_index (e->enclosures, i);

          json_builder_begin_object (b);
          add_string (b, "url", enc->url);
          add_string (b, "type", enc->type);
          add_length (b, "length", enc->length);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }

  add_string (b, "language", e->language);
  add_string (b, "icon", e->icon);
  add_string (b, "rights", e->rights);

  json_builder_end_object (b);
}

JsonNode *
td_feed_to_json_node (const TdFeed *feed)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  g_return_val_if_fail (feed != NULL, NULL);

  json_builder_begin_object (b);

  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, td_feed_version_to_string (feed->version));

  json_builder_set_member_name (b, "feed");
  add_entry (b, feed->info);

  json_builder_set_member_name (b, "entries");
  json_builder_begin_array (b);
  for (guint i = 0; i < feed->entries->len; i++)
    add_entry (b, g_ptr_array_index (feed->entries, i));
  json_builder_end_array (b);

  json_builder_set_member_name (b, "warnings");
  json_builder_begin_array (b);
  for (guint i = 0; i < feed->warnings->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (feed->warnings, i));
  json_builder_end_array (b);

  json_builder_end_object (b);

  return json_builder_get_root (b);
}

char *
td_feed_to_json (const TdFeed *feed)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  g_return_val_if_fail (feed != NULL, NULL);

  root = td_feed_to_json_node (feed);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  text = json_generator_to_data (gen, NULL);

  return g_strconcat (text, "\n", NULL);
}
