
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_SHM_H_INCLUDED_
#define _NGX_HTTP_LLM_SHM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"


/*
 * The llm zone: one shared memory zone per http{} ("llm_zone"), a slab
 * pool holding an rbtree of nodes keyed by (kind, name) and an LRU queue,
 * as limit_req's.  This file is the storage only: what a node's counters
 * mean is decided in ngx_http_llm_limit.c.
 */

#define NGX_HTTP_LLM_NODE_KEY     1
#define NGX_HTTP_LLM_NODE_TEAM    2
#define NGX_HTTP_LLM_NODE_SERIES  3     /* llm_status: provider and model */
#define NGX_HTTP_LLM_NODE_TARGET  4     /* llm_cooldown: a route target, its
                                           windows reused, see
                                           ngx_http_llm_fallback.c */
#define NGX_HTTP_LLM_NODE_BALANCE 5     /* a route target's in-flight count
                                           and latency, see
                                           ngx_http_llm_strategy.c */
#define NGX_HTTP_LLM_NODE_KEY_MODEL   7 /* a key on one model: "key model" */
#define NGX_HTTP_LLM_NODE_TEAM_MODEL  8 /* a team on one model */

/* bumped whenever ngx_http_llm_node_t changes */
#define NGX_HTTP_LLM_ZONE_LAYOUT  2


/*
 * A per-minute window, a bucket that drains continuously: "level" is
 * what is in use, in 1/60000 of a request (or token), so that a limit
 * of N per minute drains exactly N units per millisecond.
 */

typedef struct {
    uint64_t                    level;
    ngx_msec_t                  last;
} ngx_http_llm_window_t;


/* a budget of one period: settled use and in-flight reservations */

typedef struct {
    uint64_t                    used;
    uint64_t                    reserved;
    ngx_uint_t                  period;     /* the period "used" is of */
} ngx_http_llm_budget_t;


typedef struct {
    u_char                      color;
    u_char                      kind;
    u_short                     len;
    ngx_queue_t                 queue;

    /* requests holding a reservation: the node is never freed then */
    ngx_uint_t                  refs;

    /* the node is worth keeping until then: windows not drained yet, a
     * budget spent in the current period */
    time_t                      keep;

    ngx_http_llm_window_t       rpm;
    ngx_http_llm_window_t       tpm;
    ngx_http_llm_budget_t       tokens;
    ngx_http_llm_budget_t       cost;       /* nano-dollars */

    /* totals since the node was created */
    uint64_t                    requests;
    uint64_t                    prompt_tokens;
    uint64_t                    completion_tokens;
    uint64_t                    cost_total; /* nano-dollars */
    uint64_t                    responses[5]; /* by status class */

    u_char                      data[1];
} ngx_http_llm_node_t;


typedef struct {
    ngx_rbtree_t                rbtree;
    ngx_rbtree_node_t           sentinel;
    ngx_queue_t                 queue;
    ngx_uint_t                  layout;
    ngx_atomic_t                evicted;    /* nodes freed to make room */
    ngx_atomic_t                refused;    /* nodes that found no room */
} ngx_http_llm_shctx_t;


struct ngx_http_llm_zone_s {
    ngx_http_llm_shctx_t       *sh;
    ngx_slab_pool_t            *shpool;
    ngx_shm_zone_t             *shm_zone;
};


char *ngx_http_llm_zone_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * Finds the node (kind, name), creating it when "create" is set; moves
 * it to the head of the LRU queue.  The caller holds the zone's mutex.
 * NULL: not found, or no room even after freeing the least recently
 * used nodes that hold nothing worth keeping.
 */
ngx_http_llm_node_t *ngx_http_llm_shm_node(ngx_http_llm_zone_t *zone,
    ngx_uint_t kind, ngx_str_t *name, uint32_t hash, ngx_uint_t create);

/*
 * The same for a node that carries "size" more bytes after its name
 * (ngx_http_llm_node_payload()), zeroed when it is created, and that is
 * never freed to make room: what it counts has a bounded number of names.
 */
ngx_http_llm_node_t *ngx_http_llm_shm_payload_node(ngx_http_llm_zone_t *zone,
    ngx_uint_t kind, ngx_str_t *name, uint32_t hash, size_t size);

#define ngx_http_llm_node_payload(ln)                                         \
    ((void *) ngx_align_ptr((ln)->data + (ln)->len, 8))

#define ngx_http_llm_shm_hash(name)  ngx_crc32_short((name)->data, (name)->len)

#define ngx_http_llm_shm_lock(zone)   ngx_shmtx_lock(&(zone)->shpool->mutex)
#define ngx_http_llm_shm_unlock(zone)                                         \
    ngx_shmtx_unlock(&(zone)->shpool->mutex)


#endif /* _NGX_HTTP_LLM_SHM_H_INCLUDED_ */
