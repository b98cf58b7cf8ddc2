
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * Pools for the fuzzers: every allocation is tracked and freed (cleanup
 * handlers run first, last added first) by fuzz_pool_reset() after each
 * input, so LeakSanitizer sees the module's own leaks only and memory
 * does not grow over millions of runs.  t/unit/shim.c and
 * t/unit/openai_shim.c are compiled with their allocators renamed.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include <stdlib.h>

#include "fuzz.h"


typedef struct fuzz_block_s  fuzz_block_t;

struct fuzz_block_s {
    fuzz_block_t  *prev;
    fuzz_block_t  *next;
    size_t         size;
    size_t         pad;
};


static fuzz_block_t         fuzz_blocks = { &fuzz_blocks, &fuzz_blocks, 0, 0 };
static ngx_pool_cleanup_t  *fuzz_cleanups;


static void *
fuzz_alloc(size_t size, int zero)
{
    fuzz_block_t  *b;

    b = zero ? calloc(1, sizeof(fuzz_block_t) + size)
             : malloc(sizeof(fuzz_block_t) + size);
    if (b == NULL) {
        return NULL;
    }

    b->size = size;
    b->next = fuzz_blocks.next;
    b->prev = &fuzz_blocks;
    fuzz_blocks.next->prev = b;
    fuzz_blocks.next = b;

    return b + 1;
}


void *
ngx_palloc(ngx_pool_t *pool, size_t size)
{
    return fuzz_alloc(size, 0);
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return fuzz_alloc(size, 0);
}


void *
ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    return fuzz_alloc(size, 1);
}


ngx_int_t
ngx_pfree(ngx_pool_t *pool, void *p)
{
    fuzz_block_t  *b;

    if (p == NULL) {
        return NGX_DECLINED;
    }

    b = (fuzz_block_t *) p - 1;
    b->prev->next = b->next;
    b->next->prev = b->prev;
    free(b);

    return NGX_OK;
}


ngx_pool_t *
ngx_create_pool(size_t size, ngx_log_t *log)
{
    return ngx_pcalloc(NULL, sizeof(ngx_pool_t));
}


void
ngx_destroy_pool(ngx_pool_t *pool)
{
}


void
ngx_reset_pool(ngx_pool_t *pool)
{
}


ngx_pool_cleanup_t *
ngx_pool_cleanup_add(ngx_pool_t *p, size_t size)
{
    ngx_pool_cleanup_t  *c;

    c = ngx_pcalloc(p, sizeof(ngx_pool_cleanup_t));
    if (c == NULL) {
        return NULL;
    }

    if (size) {
        c->data = ngx_pcalloc(p, size);
        if (c->data == NULL) {
            return NULL;
        }
    }

    c->next = fuzz_cleanups;
    fuzz_cleanups = c;

    return c;
}


void
fuzz_pool_reset(void)
{
    fuzz_block_t        *b, *next;
    ngx_pool_cleanup_t  *c;

    for (c = fuzz_cleanups; c; c = c->next) {
        if (c->handler) {
            c->handler(c->data);
        }
    }

    fuzz_cleanups = NULL;

    for (b = fuzz_blocks.next; b != &fuzz_blocks; b = next) {
        next = b->next;
        free(b);
    }

    fuzz_blocks.next = &fuzz_blocks;
    fuzz_blocks.prev = &fuzz_blocks;
}
