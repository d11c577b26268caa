/*
 * scope.c — which grids a principal may read and write (§3).
 */
#include <string.h>

#include "sync.h"

/*
 * True when scope lets its principal see grid. A NULL grid (a record with
 * no scope value) is outside every limited scope. Borrows both arguments;
 * any thread.
 */
int sync_scope_allows(const struct db_scope *scope, const char *grid)
{
    if (scope == NULL || grid == NULL)
        return 0;
    if (scope->all)
        return 1;
    for (size_t i = 0; i < scope->n; i++) {
        if (scope->grids[i] != NULL && strcmp(scope->grids[i], grid) == 0)
            return 1;
    }
    return 0;
}
