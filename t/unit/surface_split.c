
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * Whole versus split, for the Responses and Gemini-native surfaces: a
 * provider's recorded stream goes through the SSE parser and the
 * adapter's stream_event() into the client's surface (the Responses
 * typed events, or Gemini's streamGenerateContent events) once whole,
 * then split in two at every byte boundary, then one byte at a time; the
 * bytes written to the client and the result must be the same every
 * time.  Used by t/430-surface-split.t.
 *
 *   surface_split PROVIDER SURFACE FILE [STRIDE]
 *
 * PROVIDER: openai, anthropic, gemini (SSE) or bedrock (AWS event-stream
 * frames, as ngx_http_llm_feed_es() reads them); SURFACE: responses or
 * gemini;
 * STRIDE: split every STRIDE bytes (1, the default: every boundary).
 * Prints "ok N splits, M bytes out" or the first difference; exit 1 on a
 * difference.  The machinery (a made-up request, pools freed after each
 * run) is the fuzz targets' (t/fuzz/fuzz_common.c, fuzz_alloc.c).
 */

#include "fuzz.h"
#include "ngx_http_llm_eventstream.h"


static const ngx_http_llm_provider_t  *split_provider;
static const ngx_http_llm_surface_t   *split_surface;

/* the module's location conf, as the Responses writer reads it */

ngx_module_t                           ngx_http_llm_module;
static ngx_http_llm_loc_conf_t         split_llcf;
static void                           *split_loc_conf[1] = { &split_llcf };


/*
 * not in the shims: the Gemini surface lowercases schema types; the
 * Bedrock adapter's signing (linked, never called here) needs two more
 */

u_char *
ngx_hex_dump(u_char *dst, u_char *src, size_t len)
{
    static u_char  hex[] = "0123456789abcdef";

    while (len--) {
        *dst++ = hex[*src >> 4];
        *dst++ = hex[*src++ & 0xf];
    }

    return dst;
}


void
ngx_explicit_memzero(void *buf, size_t n)
{
    ngx_memzero(buf, n);
}


void
ngx_gmtime(time_t t, ngx_tm_t *tp)
{
    struct tm  tm;

    gmtime_r(&t, &tm);
    *tp = tm;
}


void
ngx_strlow(u_char *dst, u_char *src, size_t n)
{
    while (n--) {
        *dst++ = ngx_tolower(*src);
        src++;
    }
}


/* the stream fed in pieces: cuts[] are the offsets where a read ends */

static ngx_int_t
split_run(u_char *buf, size_t size, size_t *cuts, ngx_uint_t ncuts,
    ngx_str_t *res)
{
    u_char              *p, *last, *end;
    ngx_int_t            rc;
    ngx_str_t            name, data;
    ngx_uint_t           i;
    fuzz_req_t           fr;
    ngx_chain_t         *out, **ll;
    ngx_http_llm_es_t    es;
    ngx_http_llm_sse_t   sse;

    srandom(1);
    unit_set_time(1700000000);

    fuzz_request(&fr, split_provider, split_surface);

    split_llcf.max_response_size = 64 * 1024 * 1024;
    split_llcf.max_event_size = 1024 * 1024;
    fr.r.loc_conf = split_loc_conf;

    fr.ctx.req = ngx_http_llm_request_create(fuzz_pool);
    fr.ctx.req->stream = 1;
    fr.ctx.req->include_usage = 1;
    fr.ctx.stream = 1;

    if (split_surface == &ngx_http_llm_surface_gemini) {
        fr.ctx.surface = NGX_HTTP_LLM_SURFACE_GEMINI;

    } else {
        fr.ctx.surface = NGX_HTTP_LLM_SURFACE_RESPONSES;
    }

    ngx_http_llm_sse_init(&sse, fuzz_pool, &fr.log, 1024 * 1024);
    ngx_http_llm_es_init(&es, fuzz_pool, &fr.log, 1024 * 1024);

    out = NULL;
    ll = &out;
    rc = NGX_OK;
    p = buf;
    end = buf + size;

    for (i = 0; i <= ncuts && rc == NGX_OK; i++) {

        last = (i < ncuts) ? buf + cuts[i] : end;

        while (rc == NGX_OK && split_provider == &ngx_http_llm_provider_bedrock)
        {
            rc = ngx_http_llm_es_parse(&es, &p, last);

            if (rc == NGX_AGAIN) {
                rc = NGX_OK;
                break;
            }

            if (rc != NGX_OK) {
                rc = NGX_ERROR;
                break;
            }

            name = es.message_type.len == 5 ? es.event_type
                                            : es.exception_type;

            rc = split_provider->stream_event(&fr.r, &fr.ctx, &name,
                                              &es.payload, &ll);
        }

        while (rc == NGX_OK && split_provider != &ngx_http_llm_provider_bedrock)
        {
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

            rc = split_provider->stream_event(&fr.r, &fr.ctx, &name, &data,
                                              &ll);
        }
    }

    if (rc == NGX_OK) {
        rc = split_provider->stream_event(&fr.r, &fr.ctx, NULL, NULL, &ll);
    }

    *res = fuzz_chain_str(out);

    /* the result outlives the pool */

    res->data = (u_char *) strndup((char *) res->data, res->len);

    return rc;
}


static ngx_int_t
split_compare(const char *what, size_t at, ngx_int_t rc0, ngx_str_t *whole,
    ngx_int_t rc, ngx_str_t *split)
{
    size_t  i;

    if (rc == rc0 && whole->len == split->len
        && ngx_memcmp(whole->data, split->data, whole->len) == 0)
    {
        return NGX_OK;
    }

    for (i = 0; i < whole->len && i < split->len; i++) {
        if (whole->data[i] != split->data[i]) {
            break;
        }
    }

    printf("not ok: %s %zu: rc %ld whole, %ld split; the outputs differ "
           "at byte %zu of %zu/%zu\n--- whole\n%.*s\n--- split\n%.*s\n",
           what, at, (long) rc0, (long) rc, i, whole->len, split->len,
           (int) whole->len, whole->data, (int) split->len, split->data);

    return NGX_ERROR;
}


int
main(int argc, char **argv)
{
    long        n;
    FILE       *f;
    size_t      k, stride, *cuts, runs;
    u_char     *buf;
    ngx_int_t   rc0, rc;
    ngx_str_t   whole, split;

    if (argc < 4) {
        fprintf(stderr, "usage: %s openai|anthropic|gemini|bedrock "
                        "responses|gemini FILE [STRIDE]\n", argv[0]);
        return 2;
    }

    if (strcmp(argv[1], "openai") == 0) {
        split_provider = &ngx_http_llm_provider_openai;

    } else if (strcmp(argv[1], "anthropic") == 0) {
        split_provider = &ngx_http_llm_provider_anthropic;

    } else if (strcmp(argv[1], "gemini") == 0) {
        split_provider = &ngx_http_llm_provider_gemini;

    } else if (strcmp(argv[1], "bedrock") == 0) {
        split_provider = &ngx_http_llm_provider_bedrock;

    } else {
        fprintf(stderr, "unknown provider \"%s\"\n", argv[1]);
        return 2;
    }

    if (strcmp(argv[2], "responses") == 0) {
        split_surface = &ngx_http_llm_surface_responses;

    } else if (strcmp(argv[2], "gemini") == 0) {
        split_surface = &ngx_http_llm_surface_gemini;

    } else {
        fprintf(stderr, "unknown surface \"%s\"\n", argv[2]);
        return 2;
    }

    stride = (argc > 4) ? (size_t) atol(argv[4]) : 1;

    if (stride == 0) {
        stride = 1;
    }

    f = fopen(argv[3], "rb");
    if (f == NULL) {
        perror(argv[3]);
        return 2;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    buf = malloc(n ? n : 1);
    cuts = malloc((n ? n : 1) * sizeof(size_t));

    if (buf == NULL || cuts == NULL || fread(buf, 1, n, f) != (size_t) n) {
        fprintf(stderr, "%s: cannot read\n", argv[3]);
        return 2;
    }

    fclose(f);

    fuzz_init();

    rc0 = split_run(buf, n, NULL, 0, &whole);
    fuzz_pool_reset();

    if (rc0 != NGX_OK || whole.len == 0) {
        printf("not ok: the whole stream gives rc %ld, %zu bytes\n",
               (long) rc0, whole.len);
        return 1;
    }

    runs = 0;

    /* in two at every boundary */

    for (k = 1; k < (size_t) n; k += stride) {
        fuzz_init();

        cuts[0] = k;
        rc = split_run(buf, n, cuts, 1, &split);
        fuzz_pool_reset();
        runs++;

        if (split_compare("split at", k, rc0, &whole, rc, &split) != NGX_OK) {
            return 1;
        }

        free(split.data);
    }

    /* one byte at a time */

    for (k = 1; k < (size_t) n; k++) {
        cuts[k - 1] = k;
    }

    fuzz_init();
    rc = split_run(buf, n, cuts, n ? n - 1 : 0, &split);
    fuzz_pool_reset();
    runs++;

    if (split_compare("bytewise", 1, rc0, &whole, rc, &split) != NGX_OK) {
        return 1;
    }

    printf("ok %zu splits, %zu bytes out\n", runs, whole.len);

    if (getenv("SPLIT_SHOW")) {
        printf("%.*s", (int) whole.len, whole.data);
    }

    return 0;
}
