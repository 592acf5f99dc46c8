/* status.c — the message store behind GyreStatus (one per thread). */
#include "gyre_status.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char gyre_status_msg[1024];

GyreStatus GyreStatusSet(GyreStatus code, const char *fmt, ...)
{
  char    msg[sizeof gyre_status_msg]; /* the arguments may point into gyre_status_msg */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  memcpy(gyre_status_msg, msg, sizeof msg);
  return code;
}

const char *GyreStatusMessage(void)
{
  return gyre_status_msg;
}
