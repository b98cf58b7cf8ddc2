
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * What the fuzz targets share: the parts of the module not linked in
 * (from ngx_http_llm_upstream.c and ngx_http_llm_error.c, which need a
 * live nginx), a made-up request, and the failure report.
 */

#include "fuzz.h"
#include <ngx_crc32.h>


ngx_pool_t  *fuzz_pool;

/* ngx_crc32.c's tables (the event-stream decoder checks CRC-32s) */
uint32_t     ngx_crc32_table256[256];
uint32_t    *ngx_crc32_table_short = ngx_crc32_table256;


ngx_chain_t *
ngx_http_llm_get_buf(ngx_http_request_t *r, size_t size)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    b = ngx_create_temp_buf(r->pool, size);
    cl = ngx_alloc_chain_link(r->pool);

    if (b == NULL || cl == NULL) {
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;

    return cl;
}


/* as ngx_http_llm_emit_event() in ngx_http_llm_upstream.c, simplified */

ngx_int_t
ngx_http_llm_emit_event(ngx_http_request_t *r, ngx_str_t *name,
    u_char *data, size_t len, ngx_chain_t ***ll)
{
    size_t        size;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    size = sizeof("event: \ndata: \n\n") + (name ? name->len : 0) + len;

    cl = ngx_http_llm_get_buf(r, size);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    b = cl->buf;

    if (name && name->len) {
        b->last = ngx_cpymem(b->last, "event: ", 7);
        b->last = ngx_cpymem(b->last, name->data, name->len);
        *b->last++ = LF;
    }

    b->last = ngx_cpymem(b->last, "data: ", 6);
    if (len) {
        b->last = ngx_cpymem(b->last, data, len);
    }
    *b->last++ = LF;
    *b->last++ = LF;
    b->flush = 1;

    **ll = cl;
    *ll = &cl->next;

    return NGX_OK;
}


ngx_chain_t *
ngx_http_llm_error_body(ngx_http_request_t *r, ngx_str_t *message,
    ngx_str_t *type, ngx_str_t *code, ngx_str_t *param)
{
    ngx_http_llm_jw_t  jw;

    if (ngx_http_llm_jw_init(&jw, r->pool, 256) != NGX_OK) {
        return NULL;
    }

    ngx_http_llm_jw_lit(&jw, "{\"error\":{\"message\":\"");
    ngx_http_llm_jw_string(&jw, message);
    ngx_http_llm_jw_lit(&jw, "\"}}");

    return ngx_http_llm_jw_chain(&jw);
}


__attribute__((weak)) ngx_int_t
ngx_decode_base64(ngx_str_t *dst, ngx_str_t *src)
{
    u_char      *d, c;
    uint32_t     acc;
    ngx_uint_t   i, bits, v;

    d = dst->data;
    acc = 0;
    bits = 0;

    for (i = 0; i < src->len; i++) {
        c = src->data[i];

        if (c == '=') {
            break;
        }

        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';

        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;

        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;

        } else if (c == '+') {
            v = 62;

        } else if (c == '/') {
            v = 63;

        } else {
            return NGX_ERROR;
        }

        acc = (acc << 6) | v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            *d++ = (u_char) (acc >> bits);
        }
    }

    dst->len = d - dst->data;

    return NGX_OK;
}


void
fuzz_init(void)
{
    uint32_t    c;
    ngx_uint_t  i, k;

    if (ngx_crc32_table256[1] == 0) {
        for (i = 0; i < 256; i++) {
            c = (uint32_t) i;

            for (k = 0; k < 8; k++) {
                c = (c & 1) ? 0xedb88320 ^ (c >> 1) : c >> 1;
            }

            ngx_crc32_table256[i] = c;
        }
    }

    fuzz_pool_reset();
    fuzz_pool = ngx_create_pool(4096, NULL);
    unit_set_time(1700000000);
    srandom(1);
}


void
fuzz_request(fuzz_req_t *fr, const ngx_http_llm_provider_t *type,
    const ngx_http_llm_surface_t *surf)
{
    ngx_memzero(fr, sizeof(fuzz_req_t));

    fr->pool = fuzz_pool;
    fr->r.pool = fuzz_pool;
    fr->r.connection = &fr->c;
    fr->r.main = &fr->r;
    fr->c.log = &fr->log;
    fr->r.upstream = &fr->u;

    ngx_str_set(&fr->pc.name, "fuzz");
    ngx_str_set(&fr->pc.host, "127.0.0.1");
    ngx_str_set(&fr->pc.base, "/v1");
    ngx_str_set(&fr->pc.extra_headers, "");
    fr->pc.type = type;

    fr->ctx.provider = &fr->pc;
    fr->ctx.surf = surf;
    ngx_str_set(&fr->ctx.model, "fuzz-model");
    fr->ctx.upstream_model = fr->ctx.model;
}


ngx_str_t
fuzz_chain_str(ngx_chain_t *cl)
{
    u_char       *p;
    size_t        n;
    ngx_str_t     s;
    ngx_chain_t  *c;

    n = 0;

    for (c = cl; c; c = c->next) {
        if (c->buf) {
            n += c->buf->last - c->buf->pos;
        }
    }

    s.data = ngx_pnalloc(fuzz_pool, n + 1);
    s.len = n;
    p = s.data;

    for (c = cl; c; c = c->next) {
        if (c->buf && c->buf->last > c->buf->pos) {
            p = ngx_cpymem(p, c->buf->pos, c->buf->last - c->buf->pos);
        }
    }

    return s;
}


void
fuzz_fail(const char *what, ngx_str_t *a, ngx_str_t *b)
{
    fprintf(stderr, "FUZZ ORACLE: %s\n", what);

    if (a) {
        fprintf(stderr, "--- a (%zu)\n%.*s\n", a->len, (int) a->len, a->data);
    }

    if (b) {
        fprintf(stderr, "--- b (%zu)\n%.*s\n", b->len, (int) b->len, b->data);
    }

    abort();
}
