/* status.c — the message store behind GyreStatus (one per thread). */
#include "gyre_status.h"
#include <stdarg.h>
#include <stdio.h>

static _Thread_local char gyre_status_msg[1024];

GyreStatus GyreStatusSet(GyreStatus code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(gyre_status_msg, sizeof gyre_status_msg, fmt, ap);
  va_end(ap);
  return code;
}

const char *GyreStatusMessage(void)
{
  return gyre_status_msg;
}
