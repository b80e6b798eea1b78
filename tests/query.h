/* query.h -- for tests that look into a store: one integer from one SQL
 * query, read-only. */
#ifndef OMR_TESTS_QUERY_H
#define OMR_TESTS_QUERY_H

#include <sqlite3.h>

/* The first column of the first row of sql on db_path; -1 on any error. */
static inline long query_long(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long v = -1;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

#endif
