
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_shm.h"


static void ngx_http_llm_shm_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_llm_node_t *ngx_http_llm_shm_find(ngx_http_llm_zone_t *zone,
    ngx_uint_t kind, ngx_str_t *name, uint32_t hash, size_t extra,
    ngx_uint_t create);
static ngx_int_t ngx_http_llm_shm_cmp(ngx_uint_t kind, ngx_str_t *name,
    ngx_http_llm_node_t *ln);
static void *ngx_http_llm_shm_alloc(ngx_http_llm_zone_t *zone, size_t size);
static ngx_int_t ngx_http_llm_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_llm_zone_resized(ngx_shm_zone_t *shm_zone);


char *
ngx_http_llm_zone_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    u_char               *p;
    ssize_t               size;
    ngx_str_t            *value, name, s;
    ngx_http_llm_zone_t  *zone;

    if (lmcf->zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = (u_char *) ngx_strlchr(value[1].data, value[1].data + value[1].len,
                               ':');

    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - name.data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small", &value[1]);
        return NGX_CONF_ERROR;
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    zone->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                           &ngx_http_llm_module);
    if (zone->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (zone->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    zone->shm_zone->init = ngx_http_llm_init_zone;
    zone->shm_zone->data = zone;

    lmcf->zone = zone;

    return NGX_CONF_OK;
}


static void
ngx_http_llm_shm_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_str_t             name;
    ngx_rbtree_node_t   **p;
    ngx_http_llm_node_t  *ln, *lnt;

    for ( ;; ) {

        if (node->key < temp->key) {

            p = &temp->left;

        } else if (node->key > temp->key) {

            p = &temp->right;

        } else { /* node->key == temp->key */

            ln = (ngx_http_llm_node_t *) &node->color;
            lnt = (ngx_http_llm_node_t *) &temp->color;

            name.data = ln->data;
            name.len = ln->len;

            p = (ngx_http_llm_shm_cmp(ln->kind, &name, lnt) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_int_t
ngx_http_llm_shm_cmp(ngx_uint_t kind, ngx_str_t *name,
    ngx_http_llm_node_t *ln)
{
    if (kind != ln->kind) {
        return (kind < ln->kind) ? -1 : 1;
    }

    return ngx_memn2cmp(name->data, ln->data, name->len, (size_t) ln->len);
}


ngx_http_llm_node_t *
ngx_http_llm_shm_node(ngx_http_llm_zone_t *zone, ngx_uint_t kind,
    ngx_str_t *name, uint32_t hash, ngx_uint_t create)
{
    return ngx_http_llm_shm_find(zone, kind, name, hash, 0, create);
}


ngx_http_llm_node_t *
ngx_http_llm_shm_payload_node(ngx_http_llm_zone_t *zone, ngx_uint_t kind,
    ngx_str_t *name, uint32_t hash, size_t size)
{
    ngx_http_llm_node_t  *ln;

    ln = ngx_http_llm_shm_find(zone, kind, name, hash, size + 8, 1);

    if (ln) {
        ln->keep = NGX_MAX_TIME_T_VALUE;
    }

    return ln;
}


static ngx_http_llm_node_t *
ngx_http_llm_shm_find(ngx_http_llm_zone_t *zone, ngx_uint_t kind,
    ngx_str_t *name, uint32_t hash, size_t extra, ngx_uint_t create)
{
    size_t                size;
    ngx_int_t             rc;
    ngx_rbtree_node_t    *node, *sentinel;
    ngx_http_llm_node_t  *ln;

    node = zone->sh->rbtree.root;
    sentinel = zone->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        /* hash == node->key */

        ln = (ngx_http_llm_node_t *) &node->color;

        rc = ngx_http_llm_shm_cmp(kind, name, ln);

        if (rc == 0) {
            ngx_queue_remove(&ln->queue);
            ngx_queue_insert_head(&zone->sh->queue, &ln->queue);
            return ln;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    if (!create || name->len > 65535) {
        return NULL;
    }

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_http_llm_node_t, data)
           + name->len + extra;

    node = ngx_http_llm_shm_alloc(zone, size);
    if (node == NULL) {
        return NULL;
    }

    ngx_memzero(node, size);

    node->key = hash;

    ln = (ngx_http_llm_node_t *) &node->color;

    ln->kind = (u_char) kind;
    ln->len = (u_short) name->len;
    ngx_memcpy(ln->data, name->data, name->len);

    ngx_rbtree_insert(&zone->sh->rbtree, node);
    ngx_queue_insert_head(&zone->sh->queue, &ln->queue);

    return ln;
}


/*
 * The rule when the zone is full: the least recently used nodes that
 * hold nothing worth keeping (no request in flight, windows drained, no
 * budget spent in the current period: only totals) are freed, oldest
 * first, until the new node fits; when none is left, NULL, and the
 * request is refused.  A budget is never forgotten to make room.
 */

static void *
ngx_http_llm_shm_alloc(ngx_http_llm_zone_t *zone, size_t size)
{
    time_t                now;
    void                 *p;
    ngx_queue_t          *q, *prev;
    ngx_rbtree_node_t    *node;
    ngx_http_llm_node_t  *ln;

    p = ngx_slab_alloc_locked(zone->shpool, size);

    if (p) {
        return p;
    }

    now = ngx_time();

    for (q = ngx_queue_last(&zone->sh->queue);
         q != ngx_queue_sentinel(&zone->sh->queue);
         q = prev)
    {
        prev = ngx_queue_prev(q);

        ln = ngx_queue_data(q, ngx_http_llm_node_t, queue);

        if (ln->refs || ln->keep > now) {
            continue;
        }

        ngx_queue_remove(q);

        node = (ngx_rbtree_node_t *)
                   ((u_char *) ln - offsetof(ngx_rbtree_node_t, color));

        ngx_rbtree_delete(&zone->sh->rbtree, node);

        ngx_slab_free_locked(zone->shpool, node);

        (void) ngx_atomic_fetch_add(&zone->sh->evicted, 1);

        p = ngx_slab_alloc_locked(zone->shpool, size);

        if (p) {
            return p;
        }
    }

    (void) ngx_atomic_fetch_add(&zone->sh->refused, 1);

    return NULL;
}


static ngx_int_t
ngx_http_llm_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llm_zone_t  *ozone = data;

    size_t                len;
    ngx_http_llm_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {

        /* a reload: the counters live on */

        if (ozone->sh->layout != NGX_HTTP_LLM_ZONE_LAYOUT) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "llm_zone \"%V\" was created by another version "
                          "of the module; restart nginx to replace it",
                          &shm_zone->shm.name);
            return NGX_ERROR;
        }

        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;

        return NGX_OK;
    }

    if (ngx_http_llm_zone_resized(shm_zone) != NGX_OK) {
        return NGX_ERROR;
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;

        return NGX_OK;
    }

    zone->sh = ngx_slab_alloc(zone->shpool, sizeof(ngx_http_llm_shctx_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->data = zone->sh;

    ngx_rbtree_init(&zone->sh->rbtree, &zone->sh->sentinel,
                    ngx_http_llm_shm_rbtree_insert_value);

    ngx_queue_init(&zone->sh->queue);

    zone->sh->layout = NGX_HTTP_LLM_ZONE_LAYOUT;
    zone->sh->evicted = 0;
    zone->sh->refused = 0;

    len = sizeof(" in llm zone \"\"") + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in llm zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is a documented state, not a crit message per request */

    zone->shpool->log_nomem = 0;

    return NGX_OK;
}


/*
 * nginx gives a zone whose size changed on reload a new, empty memory:
 * every counter and budget would start again from zero.  The reload is
 * refused instead (the running configuration stays); a restart resizes.
 */

static ngx_int_t
ngx_http_llm_zone_resized(ngx_shm_zone_t *shm_zone)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *oshm_zone;

    /* still the running cycle while the new one is initialized */

    if (ngx_is_init_cycle(ngx_cycle)) {
        return NGX_OK;
    }

    part = (ngx_list_part_t *) &ngx_cycle->shared_memory.part;
    oshm_zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NGX_OK;
            }

            part = part->next;
            oshm_zone = part->elts;
            i = 0;
        }

        if (oshm_zone[i].tag != shm_zone->tag
            || oshm_zone[i].shm.name.len != shm_zone->shm.name.len
            || ngx_strncmp(oshm_zone[i].shm.name.data, shm_zone->shm.name.data,
                           shm_zone->shm.name.len)
               != 0)
        {
            continue;
        }

        if (oshm_zone[i].shm.size == shm_zone->shm.size) {
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "llm_zone \"%V\" cannot change its size from %uz to "
                      "%uz on reload: its counters and budgets would be "
                      "lost; restart nginx to resize it",
                      &shm_zone->shm.name, oshm_zone[i].shm.size,
                      shm_zone->shm.size);

        return NGX_ERROR;
    }
}
