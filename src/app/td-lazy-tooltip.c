/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-lazy-tooltip"

#include "config.h"

#include "app/td-lazy-tooltip.h"

#define TEXT_KEY    "td-lazy-tooltip-text"
#define HANDLER_KEY "td-lazy-tooltip-handler"

static gboolean
query_tooltip_cb (GtkWidget  *widget,
                  int         x,
                  int         y,
                  gboolean    keyboard,
                  GtkTooltip *tooltip,
                  gpointer    user_data)
{
  const char *text = g_object_get_data (G_OBJECT (widget), TEXT_KEY);

  if (text == NULL || *text == '\0')
    return FALSE;
  gtk_tooltip_set_text (tooltip, text);
  return TRUE;
}

/* Shows @text (NULL or empty: none) as @widget's tooltip. */
void
td_lazy_tooltip_set (GtkWidget  *widget,
                     const char *text)
{
  gboolean has = text != NULL && *text != '\0';

  g_return_if_fail (GTK_IS_WIDGET (widget));

  if (g_strcmp0 (g_object_get_data (G_OBJECT (widget), TEXT_KEY), has ? text : NULL) == 0)
    return;
  if (g_object_get_data (G_OBJECT (widget), HANDLER_KEY) == NULL)
    {
      g_signal_connect (widget, "query-tooltip", G_CALLBACK (query_tooltip_cb), NULL);
      g_object_set_data (G_OBJECT (widget), HANDLER_KEY, GINT_TO_POINTER (TRUE));
    }
  g_object_set_data_full (G_OBJECT (widget), TEXT_KEY, has ? g_strdup (text) : NULL, g_free);
  gtk_widget_set_has_tooltip (widget, has);
  if (has)
    gtk_accessible_update_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, text, -1);
  else
    gtk_accessible_reset_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION);
}
