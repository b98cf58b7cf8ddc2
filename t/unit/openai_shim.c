
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * More of nginx core for the unit harnesses that translate (with shim.c,
 * which has the pool allocators and the log): arrays, buffers, pools
 * that are plain malloc, a small ngx_sprintf with the formats the
 * module uses, and the clock.  Written for this project's tests; nginx's
 * own sources are not needed (Debian's nginx-dev has headers only).
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static ngx_time_t  unit_time;

volatile ngx_time_t  *ngx_cached_time = &unit_time;


void
unit_set_time(time_t sec)
{
    unit_time.sec = sec;
}


void *
ngx_array_push(ngx_array_t *a)
{
    void  *elt, *new;

    if (a->nelts == a->nalloc) {
        new = ngx_palloc(a->pool, 2 * a->size * (a->nalloc ? a->nalloc : 1));
        if (new == NULL) {
            return NULL;
        }

        if (a->nelts) {
            memcpy(new, a->elts, a->size * a->nelts);
        }

        a->elts = new;
        a->nalloc = 2 * (a->nalloc ? a->nalloc : 1);
    }

    elt = (u_char *) a->elts + a->size * a->nelts;
    a->nelts++;

    return elt;
}


void *
ngx_array_push_n(ngx_array_t *a, ngx_uint_t n)
{
    void        *elt, *new;
    ngx_uint_t   nalloc;

    if (a->nelts + n > a->nalloc) {
        nalloc = 2 * ((n >= a->nalloc) ? n : a->nalloc);

        new = ngx_palloc(a->pool, nalloc * a->size);
        if (new == NULL) {
            return NULL;
        }

        if (a->nelts) {
            memcpy(new, a->elts, a->nelts * a->size);
        }

        a->elts = new;
        a->nalloc = nalloc;
    }

    elt = (u_char *) a->elts + a->size * a->nelts;
    a->nelts += n;

    return elt;
}


ngx_array_t *
ngx_array_create(ngx_pool_t *p, ngx_uint_t n, size_t size)
{
    ngx_array_t  *a;

    a = ngx_palloc(p, sizeof(ngx_array_t));
    if (a == NULL) {
        return NULL;
    }

    if (ngx_array_init(a, p, n, size) != NGX_OK) {
        return NULL;
    }

    return a;
}


ngx_buf_t *
ngx_create_temp_buf(ngx_pool_t *pool, size_t size)
{
    ngx_buf_t  *b;

    b = ngx_pcalloc(pool, sizeof(ngx_buf_t));
    if (b == NULL) {
        return NULL;
    }

    b->start = ngx_palloc(pool, size);
    if (b->start == NULL) {
        return NULL;
    }

    b->pos = b->start;
    b->last = b->start;
    b->end = b->last + size;
    b->temporary = 1;

    return b;
}


ngx_chain_t *
ngx_alloc_chain_link(ngx_pool_t *pool)
{
    return ngx_palloc(pool, sizeof(ngx_chain_t));
}


/* a pool is a token: shim.c allocates from malloc, whatever the pool */

ngx_pool_t *
ngx_create_pool(size_t size, ngx_log_t *log)
{
    return calloc(1, sizeof(ngx_pool_t));
}


void
ngx_destroy_pool(ngx_pool_t *pool)
{
    free(pool);
}


void
ngx_reset_pool(ngx_pool_t *pool)
{
}


ngx_pool_cleanup_t *
ngx_pool_cleanup_add(ngx_pool_t *p, size_t size)
{
    ngx_pool_cleanup_t  *c;

    c = calloc(1, sizeof(ngx_pool_cleanup_t));
    if (c == NULL) {
        return NULL;
    }

    if (size) {
        c->data = calloc(1, size);
    }

    return c;
}


u_char *
ngx_pstrdup(ngx_pool_t *pool, ngx_str_t *src)
{
    u_char  *dst;

    dst = ngx_pnalloc(pool, src->len);
    if (dst == NULL) {
        return NULL;
    }

    if (src->len) {
        memcpy(dst, src->data, src->len);
    }

    return dst;
}


/*
 * ngx_vslprintf() for the formats of the module: %[0][width][u][x|X]
 * followed by i, d, D, l, z, T, O, ui..., and %V, %s, %*s, %c, %%.
 */

u_char *
ngx_vslprintf(u_char *buf, u_char *last, const char *fmt, va_list args)
{
    u_char      *p, tmp[64];
    size_t       len, width;
    int64_t      i64;
    uint64_t     ui64;
    ngx_str_t   *v;
    ngx_uint_t   sign, hex, zero, star, n;

    while (*fmt && buf < last) {

        if (*fmt != '%') {
            *buf++ = *fmt++;
            continue;
        }

        fmt++;

        zero = (*fmt == '0');
        width = 0;
        sign = 1;
        hex = 0;
        star = 0;

        while (*fmt >= '0' && *fmt <= '9') {
            width = width * 10 + (*fmt++ - '0');
        }

        for ( ;; ) {
            if (*fmt == 'u') {
                sign = 0;
                fmt++;

            } else if (*fmt == 'x' || *fmt == 'X') {
                hex = (*fmt == 'x') ? 1 : 2;
                sign = 0;
                fmt++;

            } else if (*fmt == '*') {
                star = 1;
                fmt++;

            } else {
                break;
            }
        }

        switch (*fmt) {

        case 'V':
            v = va_arg(args, ngx_str_t *);
            len = ngx_min((size_t) (last - buf), v->len);
            buf = ngx_cpymem(buf, v->data, len);
            fmt++;
            continue;

        case 's':
            if (star) {
                len = va_arg(args, size_t);
                p = va_arg(args, u_char *);

            } else {
                p = va_arg(args, u_char *);
                len = strlen((char *) p);
            }

            len = ngx_min((size_t) (last - buf), len);
            buf = ngx_cpymem(buf, p, len);
            fmt++;
            continue;

        case 'c':
            *buf++ = (u_char) va_arg(args, int);
            fmt++;
            continue;

        case '%':
            *buf++ = '%';
            fmt++;
            continue;

        case 'i':
            i64 = sign ? (int64_t) va_arg(args, ngx_int_t)
                       : (int64_t) va_arg(args, ngx_uint_t);
            break;

        case 'd':
            i64 = sign ? (int64_t) va_arg(args, int)
                       : (int64_t) va_arg(args, u_int);
            break;

        case 'D':
            i64 = sign ? (int64_t) va_arg(args, int32_t)
                       : (int64_t) va_arg(args, uint32_t);
            break;

        case 'l':
            i64 = sign ? (int64_t) va_arg(args, long)
                       : (int64_t) va_arg(args, u_long);
            break;

        case 'z':
            i64 = sign ? (int64_t) va_arg(args, ssize_t)
                       : (int64_t) va_arg(args, size_t);
            break;

        case 'T':
            i64 = (int64_t) va_arg(args, time_t);
            sign = 1;
            break;

        case 'O':
            i64 = (int64_t) va_arg(args, off_t);
            sign = 1;
            break;

        default:
            *buf++ = *fmt++;
            continue;
        }

        fmt++;

        if (sign && i64 < 0) {
            *buf++ = '-';
            ui64 = (uint64_t) -i64;

        } else {
            ui64 = (uint64_t) i64;
        }

        p = tmp + sizeof(tmp);

        do {
            if (hex) {
                *--p = (u_char) ((hex == 1 ? "0123456789abcdef"
                                           : "0123456789ABCDEF")[ui64 & 0xf]);
                ui64 >>= 4;

            } else {
                *--p = (u_char) ('0' + ui64 % 10);
                ui64 /= 10;
            }

        } while (ui64);

        len = tmp + sizeof(tmp) - p;

        for (n = len; n < width && buf < last; n++) {
            *buf++ = zero ? '0' : ' ';
        }

        len = ngx_min((size_t) (last - buf), len);
        buf = ngx_cpymem(buf, p, len);
    }

    return buf;
}


u_char *
ngx_sprintf(u_char *buf, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, (void *) -1, fmt, args);
    va_end(args);

    return p;
}


u_char *
ngx_snprintf(u_char *buf, size_t max, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + max, fmt, args);
    va_end(args);

    return p;
}
