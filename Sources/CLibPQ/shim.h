// libpq, PostgreSQL's C client (Debian: libpq-dev installs it under /usr/include/postgresql).
#include <postgresql/libpq-fe.h>
