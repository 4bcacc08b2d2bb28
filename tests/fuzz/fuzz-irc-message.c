/* SPDX-License-Identifier: GPL-3.0-or-later */
/* IRC lines: tags, source, command, parameters; and back to the wire. */
#include <glib.h>
#include <stdint.h>

#include "chat/td-irc-message.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  TdIrcMessage *message;

  message = td_irc_message_parse ((const char *) data, size, &error);
  g_assert ((message == NULL) != (error == NULL));
  if (message != NULL)
    {
      g_assert_nonnull (message->command);
      g_assert_cmpuint (message->n_params, <=, TD_IRC_MAX_PARAMS);
      td_irc_message_free (message);
    }
  return 0;
}
