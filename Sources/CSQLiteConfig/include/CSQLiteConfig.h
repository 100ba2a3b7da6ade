// Process-wide SQLite settings that Swift cannot make itself: sqlite3_config is variadic.
#ifndef CSQLITECONFIG_H
#define CSQLITECONFIG_H

/// sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0). With memory statistics on (SQLite's default), every
/// allocation SQLite makes takes one process-wide mutex, which the server's polling threads fought
/// over. Only possible before SQLite initializes; returns SQLite's result code (SQLITE_MISUSE when
/// it was too late).
int csqlite_disable_memory_statistics(void);

#endif
