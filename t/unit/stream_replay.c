
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * Whole-versus-split replay of recorded provider streams (t/152-stream-
 * replay.t): each stream goes through the SSE parser (or, for Bedrock,
 * the event-stream decoder) and the provider adapter's stream_event()
 * into the OpenAI chat surface and the Anthropic Messages surface, the
 * way ngx_http_llm_upstream.c feeds them (the fuzz targets' code paths,
 * t/fuzz), and the bytes written to the client must be the same:
 *
 *   - the whole stream in one piece (the reference),
 *   - two pieces, split at every offset 1 .. N-1 when N <= LIMIT (this
 *     costs N runs of N bytes); above LIMIT, the two-piece splits in the
 *     first and the last LIMIT/2 bytes, and
 *   - (above LIMIT) every offset still a cut once: runs in pieces of M
 *     bytes whose first piece is 1 .. M bytes long,
 *   - one byte at a time (with include_usage, and without it).
 *
 *   stream_replay [-p] [-x LIMIT] [-m M] PROVIDER FILE...
 *
 * -p prints each whole translation. *
 * LIMIT 0: no limit, every file split at every offset.
 *
 * PROVIDER: openai, anthropic, gemini, bedrock; FILE: the raw bytes of
 * the upstream body (SSE, or AWS event-stream frames).  Prints one line
 * per file and surface: "ok FILE SURFACE: N bytes, R runs" or "not ok"
 * with both translations; exit status 1 on any difference.
 */

#include "fuzz.h"
#include "ngx_http_llm_eventstream.h"

#include <stdio.h>
#include <stdlib.h>


extern const ngx_http_llm_provider_t  ngx_http_llm_provider_bedrock;

u_char *unit_read_file(const char *path, size_t *len);   /* shim.c */


typedef struct {
    const char                     *name;
    const ngx_http_llm_provider_t  *prov;
} replay_provider_t;


static replay_provider_t  replay_providers[] = {
    { "openai", &ngx_http_llm_provider_openai },
    { "anthropic", &ngx_http_llm_provider_anthropic },
    { "gemini", &ngx_http_llm_provider_gemini },
    { "bedrock", &ngx_http_llm_provider_bedrock },
    { NULL, NULL }
};


static struct {
    const char                     *name;
    const ngx_http_llm_surface_t   *surf;
} replay_surfaces[] = {
    { "openai", &ngx_http_llm_surface_openai },
    { "anthropic", &ngx_http_llm_surface_anthropic },
};


typedef struct {
    u_char      *data;      /* malloc'd: outlives the pool resets */
    size_t       len;
    ngx_int_t    rc;
} replay_out_t;


static unsigned long  replay_runs;
static ngx_uint_t     replay_print;
static ngx_uint_t     replay_usage = 1;   /* stream_options.include_usage */


/*
 * one run: the stream cut at the offsets cuts[0..ncuts-1] (ascending),
 * or, with step, into pieces of step bytes after a first one of "first"
 */

static void
replay_run(u_char *buf, size_t size, const ngx_http_llm_provider_t *prov,
    const ngx_http_llm_surface_t *surf, size_t *cuts, ngx_uint_t ncuts,
    size_t first, size_t step, replay_out_t *res)
{
    u_char              *p, *last, *end;
    size_t               next;
    ngx_int_t            rc;
    ngx_str_t            name, data, s;
    ngx_uint_t           c;
    fuzz_req_t           fr;
    ngx_chain_t         *out, **ll;
    ngx_http_llm_es_t    es;
    ngx_http_llm_sse_t   sse;

    replay_runs++;

    fuzz_init();
    fuzz_request(&fr, prov, surf);

    fr.ctx.req = ngx_http_llm_request_create(fuzz_pool);
    fr.ctx.req->stream = 1;
    fr.ctx.req->include_usage = replay_usage;
    fr.ctx.stream = 1;
    fr.ctx.client_usage = replay_usage;

    if (prov == &ngx_http_llm_provider_bedrock) {
        ngx_http_llm_es_init(&es, fuzz_pool, &fr.log, 1024 * 1024);
        fr.ctx.eventstream = 1;
        fr.ctx.sse = &es;

    } else {
        ngx_http_llm_sse_init(&sse, fuzz_pool, &fr.log, 1024 * 1024);
        fr.ctx.sse = &sse;
    }

    out = NULL;
    ll = &out;
    rc = NGX_OK;
    p = buf;
    end = buf + size;
    c = 0;

    while (p < end && rc == NGX_OK) {

        if (step) {
            next = (p == buf) ? first : step;
            last = (size_t) (end - p) <= next ? end : p + next;

        } else {
            last = (c < ncuts) ? buf + cuts[c++] : end;
        }

        while (p < last) {

            if (fr.ctx.eventstream) {
                rc = ngx_http_llm_es_parse(&es, &p, last);

                if (rc == NGX_AGAIN) {
                    rc = NGX_OK;
                    break;
                }

                if (rc != NGX_OK) {
                    break;
                }

                name = (es.message_type.len == 5) ? es.event_type
                                                  : es.exception_type;
                data = es.payload;

            } else {
                rc = ngx_http_llm_sse_parse(&sse, &p, last);

                if (rc == NGX_AGAIN) {
                    rc = NGX_OK;
                    break;
                }

                if (rc != NGX_OK) {
                    break;
                }

                name.data = sse.name;
                name.len = sse.has_event ? sse.name_len : 0;
                data.data = sse.data;
                data.len = sse.len;
            }

            rc = prov->stream_event(&fr.r, &fr.ctx, &name, &data, &ll);

            if (rc != NGX_OK) {
                break;
            }
        }
    }

    if (rc == NGX_OK) {
        rc = prov->stream_event(&fr.r, &fr.ctx, NULL, NULL, &ll);
    }

    s = fuzz_chain_str(out);

    res->rc = rc;
    res->len = s.len;
    res->data = malloc(s.len + 1);
    if (res->data == NULL) {
        fprintf(stderr, "no memory\n");
        exit(2);
    }

    ngx_memcpy(res->data, s.data, s.len);

    fuzz_pool_reset();
}


static ngx_uint_t
replay_same(replay_out_t *a, replay_out_t *b)
{
    return a->rc == b->rc && a->len == b->len
           && ngx_memcmp(a->data, b->data, a->len) == 0;
}


static void
replay_diff(const char *file, const char *surf, const char *how,
    replay_out_t *whole, replay_out_t *split)
{
    printf("not ok %s %s: differs %s\n--- whole (rc %ld, %zu bytes)\n%.*s\n"
           "--- split (rc %ld, %zu bytes)\n%.*s\n---\n", file, surf, how,
           (long) whole->rc, whole->len, (int) whole->len, whole->data,
           (long) split->rc, split->len, (int) split->len, split->data);
}


static ngx_uint_t
replay_file(const replay_provider_t *rp, const char *path, size_t limit,
    size_t piece)
{
    u_char        *buf;
    size_t         size, k, cut, m, *cuts;
    ngx_uint_t     s, ok, exhaustive, nsplit;
    replay_out_t   whole, split;

    buf = unit_read_file(path, &size);
    if (buf == NULL) {
        printf("not ok %s: cannot read\n", path);
        return 0;
    }

    ok = 1;
    exhaustive = (size <= limit);

    cuts = malloc((size + 1) * sizeof(size_t));
    if (cuts == NULL) {
        return 0;
    }

    for (s = 0; s < 2 && ok; s++) {
        replay_runs = 0;
        nsplit = 0;

        replay_run(buf, size, rp->prov, replay_surfaces[s].surf, NULL, 0,
                   0, 0, &whole);

        if (replay_print) {
            printf("--- %s %s (rc %ld)\n%.*s", path, replay_surfaces[s].name,
                   (long) whole.rc, (int) whole.len, whole.data);
        }

        if (whole.len == 0) {
            printf("not ok %s %s: no output at all\n", path,
                   replay_surfaces[s].name);
            ok = 0;
            break;
        }

        /* two pieces */

        for (k = 1; k < size && ok; k++) {

            if (!exhaustive && k > limit / 2 && size - k > limit / 2) {
                continue;
            }

            cut = k;
            replay_run(buf, size, rp->prov, replay_surfaces[s].surf, &cut, 1,
                       0, 0, &split);
            nsplit++;

            if (!replay_same(&whole, &split)) {
                char  how[64];

                snprintf(how, sizeof(how), "split at %zu", k);
                replay_diff(path, replay_surfaces[s].name, how, &whole,
                            &split);
                ok = 0;
            }

            free(split.data);
        }

        /* one byte at a time */

        if (ok) {
            for (k = 0; k < size; k++) {
                cuts[k] = k + 1;
            }

            replay_run(buf, size, rp->prov, replay_surfaces[s].surf, cuts,
                       size, 0, 0, &split);

            if (!replay_same(&whole, &split)) {
                replay_diff(path, replay_surfaces[s].name, "byte by byte",
                            &whole, &split);
                ok = 0;
            }

            free(split.data);
        }

        /* without include_usage: whole vs byte by byte again */

        if (ok) {
            replay_out_t  w0;

            replay_usage = 0;

            replay_run(buf, size, rp->prov, replay_surfaces[s].surf, NULL, 0,
                       0, 0, &w0);
            replay_run(buf, size, rp->prov, replay_surfaces[s].surf, cuts,
                       size, 0, 0, &split);

            replay_usage = 1;

            if (!replay_same(&w0, &split)) {
                replay_diff(path, replay_surfaces[s].name,
                            "byte by byte, without include_usage", &w0,
                            &split);
                ok = 0;
            }

            free(w0.data);
            free(split.data);
        }

        /* not exhaustive: every offset still a boundary once */

        for (m = 1; ok && !exhaustive && m <= piece; m++) {
            /* pieces of "piece" bytes, the first one m bytes long */
            replay_run(buf, size, rp->prov, replay_surfaces[s].surf, NULL, 0,
                       m, piece, &split);

            if (!replay_same(&whole, &split)) {
                char  how[64];

                snprintf(how, sizeof(how), "in pieces of %zu from %zu",
                         piece, m);
                replay_diff(path, replay_surfaces[s].name, how, &whole,
                            &split);
                ok = 0;
            }

            free(split.data);
        }

        if (ok) {
            printf("ok %s %s: %zu bytes, %s, %lu two-piece splits, "
                   "%lu runs, %zu bytes out\n", path,
                   replay_surfaces[s].name, size,
                   exhaustive ? "every offset" : "sampled + interleaved",
                   (unsigned long) nsplit, replay_runs, whole.len);
        }

        free(whole.data);
    }

    free(cuts);
    free(buf);

    return ok;
}


int
main(int argc, char **argv)
{
    int                 i;
    size_t              limit, piece;
    ngx_uint_t          failed, files;
    replay_provider_t  *rp;

    limit = 16384;
    piece = 1024;
    i = 1;

    while (i + 1 < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "-p") == 0) {
            replay_print = 1;
            i++;
            continue;
        }

        if (strcmp(argv[i], "-x") == 0) {
            limit = strtoul(argv[i + 1], NULL, 10);

        } else if (strcmp(argv[i], "-m") == 0) {
            piece = strtoul(argv[i + 1], NULL, 10);
        }

        i += 2;
    }

    if (limit == 0) {
        limit = (size_t) -1;
    }

    if (piece == 0) {
        piece = 1;
    }

    if (i >= argc) {
        fprintf(stderr, "usage: %s [-x LIMIT] PROVIDER FILE...\n", argv[0]);
        return 2;
    }

    for (rp = replay_providers; rp->name; rp++) {
        if (strcmp(rp->name, argv[i]) == 0) {
            break;
        }
    }

    if (rp->name == NULL) {
        fprintf(stderr, "unknown provider %s\n", argv[i]);
        return 2;
    }

    failed = 0;
    files = 0;

    for (i++; i < argc; i++) {
        files++;

        if (!replay_file(rp, argv[i], limit, piece)) {
            failed++;
        }
    }

    printf("%lu files, %lu failed\n", (unsigned long) files,
           (unsigned long) failed);

    return failed ? 1 : 0;
}
