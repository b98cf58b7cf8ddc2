
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * The OpenAI format through the canonical model, outside nginx, with the
 * module's own surface and adapter functions (a request, a context and a
 * provider made up here).  Usage:
 *
 *   openai_roundtrip request [-f FLAGS] FILE...
 *       a chat request -> canonical -> body -> canonical -> body: both
 *       bodies must be the same bytes; the first is printed
 *   openai_roundtrip stream FILE...
 *       recorded chunks (*.sse, or *.chunks.txt: one payload a line)
 *       through the adapter's stream parser and the surface's chunk
 *       writer, with include_usage; the written stream is printed
 *   openai_roundtrip response FILE...
 *       a chat.completion through the adapter's parser and the surface's
 *       writer; the written body is printed
 *
 * Every result is printed as "=== KIND FILE LENGTH\n" and LENGTH bytes;
 * t/101-openai-roundtrip.t compares them with the originals.  The exit
 * code is 1 when a request does not come back the same.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_canonical.h"
#include "ngx_http_llm_provider.h"
#include "ngx_http_llm_openai.h"
#include "ngx_http_llm_sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


void unit_set_time(time_t sec);


static ngx_pool_t  *pool;


/* what the module's files need from the parts not linked in */

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


ngx_int_t
ngx_http_llm_emit_event(ngx_http_request_t *r, ngx_str_t *name,
    u_char *data, size_t len, ngx_chain_t ***ll)
{
    return NGX_ERROR;
}


ngx_chain_t *
ngx_http_llm_error_body(ngx_http_request_t *r, ngx_str_t *message,
    ngx_str_t *type, ngx_str_t *code, ngx_str_t *param)
{
    return NULL;
}


static u_char *
read_file(const char *name, size_t *len)
{
    FILE    *f;
    long     n;
    u_char  *p;

    f = fopen(name, "rb");
    if (f == NULL) {
        return NULL;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    p = malloc(n + 1);

    if (p == NULL || fread(p, 1, n, f) != (size_t) n) {
        fclose(f);
        return NULL;
    }

    fclose(f);

    *len = n;

    return p;
}


static void
print(const char *kind, const char *name, u_char *p, size_t len)
{
    printf("=== %s %s %lu\n", kind, name, (unsigned long) len);
    fwrite(p, 1, len, stdout);
    printf("\n");
}


static void
fake_request(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_provider_conf_t *pc)
{
    static ngx_log_t            log;
    static ngx_connection_t     c;
    static ngx_http_upstream_t  u;

    ngx_memzero(r, sizeof(ngx_http_request_t));
    ngx_memzero(ctx, sizeof(ngx_http_llm_ctx_t));
    ngx_memzero(pc, sizeof(ngx_http_llm_provider_conf_t));
    ngx_memzero(&u, sizeof(ngx_http_upstream_t));

    r->pool = pool;
    r->connection = &c;
    c.log = &log;
    r->upstream = &u;

    ngx_str_set(&pc->name, "unit");
    ngx_str_set(&pc->host, "127.0.0.1");
    ngx_str_set(&pc->base, "/v1");
    pc->type = &ngx_http_llm_provider_openai;

    ctx->provider = pc;
    ctx->surf = &ngx_http_llm_surface_openai;
    ngx_str_set(&ctx->model, "client-model");
    ctx->upstream_model = ctx->model;
}


static ngx_int_t
body(ngx_http_llm_request_t *req, ngx_uint_t flags, ngx_str_t *out)
{
    ngx_str_t  model;

    model = req->model;

    return ngx_http_llm_openai_write_body(pool, req, &model, flags, out);
}


static int
request(const char *name, ngx_uint_t flags)
{
    u_char                  *data;
    size_t                   len;
    ngx_int_t                rc;
    ngx_str_t                b1, b2;
    const char              *error;
    ngx_http_llm_json_t      js;
    ngx_http_llm_request_t  *req;

    data = read_file(name, &len);
    if (data == NULL) {
        fprintf(stderr, "%s: cannot read\n", name);
        return 1;
    }

    if (ngx_http_llm_json_parse(pool, &js, data, len, 1 << 20) != NGX_OK) {
        fprintf(stderr, "%s: not JSON\n", name);
        return 1;
    }

    req = ngx_http_llm_request_create(pool);
    error = NULL;

    rc = ngx_http_llm_openai_parse(pool, &js, req, &error);

    if (rc == NGX_DECLINED) {
        print("DECLINED", name, (u_char *) error, strlen(error));
        return 0;
    }

    if (rc != NGX_OK || body(req, flags, &b1) != NGX_OK) {
        fprintf(stderr, "%s: failed\n", name);
        return 1;
    }

    /* the written body, parsed again, must give the same body */

    if (ngx_http_llm_json_parse(pool, &js, b1.data, b1.len, 1 << 20)
        != NGX_OK)
    {
        fprintf(stderr, "%s: written body is not JSON: %.*s\n", name,
                (int) b1.len, b1.data);
        return 1;
    }

    req = ngx_http_llm_request_create(pool);

    if (ngx_http_llm_openai_parse(pool, &js, req, &error) != NGX_OK
        || body(req, flags, &b2) != NGX_OK)
    {
        fprintf(stderr, "%s: written body does not parse: %s\n", name,
                error ? error : "");
        return 1;
    }

    if (b1.len != b2.len || ngx_memcmp(b1.data, b2.data, b1.len) != 0) {
        fprintf(stderr, "%s: not the same twice:\n%.*s\n%.*s\n", name,
                (int) b1.len, b1.data, (int) b2.len, b2.data);
        return 1;
    }

    print("REQUEST", name, b1.data, b1.len);

    return 0;
}


static ngx_int_t
stream_event(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *data, ngx_chain_t ***ll)
{
    ngx_str_t  name;

    ngx_str_null(&name);

    return ngx_http_llm_provider_openai.stream_event(r, ctx, &name, data,
                                                     ll);
}


static int
stream(const char *name)
{
    u_char                        *data, *p, *q, *last;
    size_t                         len, n;
    ngx_int_t                      rc;
    ngx_str_t                      ev;
    ngx_chain_t                   *out, **ll, *cl;
    ngx_http_llm_ctx_t             ctx;
    ngx_http_llm_sse_t             sse;
    ngx_http_request_t             r;
    ngx_http_llm_provider_conf_t   pc;

    data = read_file(name, &len);
    if (data == NULL) {
        fprintf(stderr, "%s: cannot read\n", name);
        return 1;
    }

    fake_request(&r, &ctx, &pc);

    ctx.req = ngx_http_llm_request_create(pool);
    ctx.req->stream = 1;
    ctx.req->include_usage = 1;
    ctx.stream = 1;

    out = NULL;
    ll = &out;
    rc = NGX_OK;

    last = data + len;

    if (len > 11 && strcmp(name + strlen(name) - 11, ".chunks.txt") == 0) {

        for (p = data; p < last && rc == NGX_OK; p = q + 1) {
            q = memchr(p, '\n', last - p);

            if (q == NULL) {
                q = last;
            }

            ev.data = p;
            ev.len = q - p;

            if (ev.len && ev.data[ev.len - 1] == '\r') {
                ev.len--;
            }

            if (ev.len) {
                rc = stream_event(&r, &ctx, &ev, &ll);
            }
        }

    } else {
        ngx_http_llm_sse_init(&sse, pool, r.connection->log, 1 << 20);

        p = data;

        while (p < last && rc == NGX_OK) {
            rc = ngx_http_llm_sse_parse(&sse, &p, last);

            if (rc == NGX_AGAIN) {
                rc = NGX_OK;
                break;
            }

            if (rc != NGX_OK) {
                break;
            }

            ev.data = sse.data;
            ev.len = sse.len;

            rc = stream_event(&r, &ctx, &ev, &ll);
        }
    }

    if (rc == NGX_OK) {
        rc = stream_event(&r, &ctx, NULL, &ll);
    }

    if (rc != NGX_OK) {
        fprintf(stderr, "%s: stream failed\n", name);
        return 1;
    }

    n = 0;

    for (cl = out; cl; cl = cl->next) {
        n += cl->buf->last - cl->buf->pos;

        if (!cl->buf->flush) {
            fprintf(stderr, "%s: an event without flush\n", name);
            return 1;
        }

        /* buffers are exactly the size asked for: it was measured right */

        if (cl->buf->last > cl->buf->end) {
            fprintf(stderr, "%s: an event longer than measured: %.*s\n",
                    name, (int) (cl->buf->last - cl->buf->pos),
                    cl->buf->pos);
            return 1;
        }
    }

    printf("=== STREAM %s %lu\n", name, (unsigned long) n);

    for (cl = out; cl; cl = cl->next) {
        fwrite(cl->buf->pos, 1, cl->buf->last - cl->buf->pos, stdout);
    }

    printf("\n");

    return 0;
}


static int
response(const char *name)
{
    u_char                        *data;
    size_t                         len;
    ngx_int_t                      rc;
    ngx_str_t                      b;
    ngx_chain_t                   *out;
    ngx_http_llm_ctx_t             ctx;
    ngx_http_request_t             r;
    ngx_http_llm_provider_conf_t   pc;

    data = read_file(name, &len);
    if (data == NULL) {
        fprintf(stderr, "%s: cannot read\n", name);
        return 1;
    }

    fake_request(&r, &ctx, &pc);

    ctx.req = ngx_http_llm_request_create(pool);

    b.data = data;
    b.len = len;
    out = NULL;

    rc = ngx_http_llm_provider_openai.response(&r, &ctx, &b, &out);

    if (rc == NGX_DECLINED) {
        print("DECLINED", name, (u_char *) "", 0);
        return 0;
    }

    if (rc != NGX_OK || out == NULL) {
        fprintf(stderr, "%s: response failed\n", name);
        return 1;
    }

    print("RESPONSE", name, out->buf->pos, out->buf->last - out->buf->pos);

    return 0;
}


int
main(int argc, char **argv)
{
    int         i, bad;
    ngx_uint_t  flags;

    if (argc < 2) {
        fprintf(stderr, "usage: %s request|stream|response FILE...\n",
                argv[0]);
        return 2;
    }

    pool = calloc(1, sizeof(ngx_pool_t));
    unit_set_time(1700000000);
    srandom(1);

    bad = 0;
    flags = NGX_HTTP_LLM_OPENAI_STREAM_USAGE|NGX_HTTP_LLM_OPENAI_REASONING;

    for (i = 2; i < argc; i++) {

        if (strcmp(argv[i], "-f") == 0 && i + 1 < argc) {
            flags = strtoul(argv[++i], NULL, 0);
            continue;
        }

        if (strcmp(argv[1], "request") == 0) {
            bad |= request(argv[i], flags);

        } else if (strcmp(argv[1], "stream") == 0) {
            bad |= stream(argv[i]);

        } else if (strcmp(argv[1], "response") == 0) {
            bad |= response(argv[i]);

        } else {
            fprintf(stderr, "unknown mode \"%s\"\n", argv[1]);
            return 2;
        }
    }

    return bad;
}
