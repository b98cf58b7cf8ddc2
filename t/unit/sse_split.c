
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * Replays recorded event streams through the SSE parser split at every
 * byte boundary (sampled past 4 KB unless LLM_SPLIT_FULL is set), and one
 * byte at a time, and checks that the events are the same as from the whole
 * stream.  Usage: sse_split FILE...; a file is raw SSE (*.sse) or one
 * data payload per line (*.chunks.txt, reframed as "data: ...\n\n").
 * Each stream is also tried with LF, CRLF and CR line ends.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct {
    u_char     *data;
    size_t      len;
    size_t      size;
    ngx_uint_t  events;
    ngx_int_t   error;
} out_t;


static void
out_add(out_t *o, u_char *p, size_t n)
{
    if (o->len + n > o->size) {
        o->size = (o->len + n) * 2 + 64;
        o->data = realloc(o->data, o->size);
    }

    memcpy(o->data + o->len, p, n);
    o->len += n;
}


/* feeds "len" bytes in pieces cut at the given offsets */

static void
run(u_char *s, size_t len, size_t *cuts, ngx_uint_t ncuts, out_t *o)
{
    u_char              *p, *last;
    size_t               from, to;
    ngx_int_t            rc;
    ngx_uint_t           i;
    ngx_log_t            log;
    ngx_http_llm_sse_t   sse;

    ngx_memzero(&log, sizeof(ngx_log_t));
    ngx_http_llm_sse_init(&sse, NULL, &log, 1024 * 1024);

    o->len = 0;
    o->events = 0;
    o->error = 0;

    from = 0;

    for (i = 0; i <= ncuts; i++) {
        to = (i < ncuts) ? cuts[i] : len;
        p = s + from;
        last = s + to;

        while (p < last) {
            rc = ngx_http_llm_sse_parse(&sse, &p, last);

            if (rc == NGX_AGAIN) {
                break;
            }

            if (rc != NGX_OK) {
                o->error = rc;
                return;
            }

            out_add(o, (u_char *) "E:", 2);
            out_add(o, sse.name, sse.has_event ? sse.name_len : 0);
            out_add(o, (u_char *) "\0", 1);
            out_add(o, sse.data, sse.len);
            out_add(o, (u_char *) "\0", 1);
            o->events++;
        }

        from = to;
    }

    free(sse.data);
}


static u_char *
load(const char *name, size_t *len)
{
    FILE    *f;
    u_char  *buf, *out, *p, *line, *end;
    long     n;
    size_t   k;

    f = fopen(name, "rb");
    if (f == NULL) {
        perror(name);
        exit(2);
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    buf = malloc(n + 1);
    if (fread(buf, 1, n, f) != (size_t) n) {
        perror(name);
        exit(2);
    }

    fclose(f);
    buf[n] = '\0';

    k = strlen(name);

    if (k < 11 || strcmp(name + k - 11, ".chunks.txt") != 0) {
        *len = n;
        return buf;
    }

    /* one payload per line: reframe as SSE */

    out = malloc(n * 2 + 64);
    p = out;

    for (line = buf; line < buf + n; line = end + 1) {
        end = (u_char *) memchr(line, '\n', buf + n - line);
        if (end == NULL) {
            end = buf + n;
        }

        if (end > line) {
            p = ngx_cpymem(p, "data: ", 6);
            p = ngx_cpymem(p, line, end - line);
            *p++ = '\n';
            *p++ = '\n';
        }
    }

    free(buf);
    *len = p - out;

    return out;
}


/* rewrites every LF line end as CRLF or CR */

static u_char *
endings(u_char *s, size_t len, const char *eol, size_t *out_len)
{
    u_char  *out, *p;
    size_t   i, el;

    el = strlen(eol);
    out = malloc(len * 2 + 1);
    p = out;

    for (i = 0; i < len; i++) {
        if (s[i] == '\n') {
            p = ngx_cpymem(p, eol, el);

        } else if (s[i] == '\r') {
            continue;

        } else {
            *p++ = s[i];
        }
    }

    *out_len = p - out;

    return out;
}


int
main(int argc, char **argv)
{
    int          i, e, failed;
    u_char      *s, *raw;
    size_t       len, rlen, k, *cuts, stride, runs;
    ngx_uint_t   n;
    out_t        whole, part;

    static const char  *eols[] = { NULL, "\r\n", "\r" };

    failed = 0;
    runs = 0;

    ngx_memzero(&whole, sizeof(out_t));
    ngx_memzero(&part, sizeof(out_t));

    for (i = 1; i < argc; i++) {
        raw = load(argv[i], &rlen);

        for (e = 0; e < 3; e++) {

            if (eols[e] == NULL) {
                s = raw;
                len = rlen;

            } else {
                s = endings(raw, rlen, eols[e], &len);
            }

            run(s, len, NULL, 0, &whole);

            if (whole.error || whole.events == 0) {
                printf("not ok - %s eol=%d: whole stream: error %d, "
                       "%u events\n", argv[i], e, (int) whole.error,
                       (unsigned) whole.events);
                failed++;
                continue;
            }

            /*
             * one byte at a time (below) crosses every boundary at once;
             * single splits: every offset up to 4 KB, ~500 points past
             * that unless LLM_SPLIT_FULL is set
             */

            stride = 1;

            if (len > 4096 && getenv("LLM_SPLIT_FULL") == NULL) {
                stride = len / 500;
            }

            for (k = 1; k < len; k += stride) {
                run(s, len, &k, 1, &part);
                runs++;

                if (part.len != whole.len
                    || memcmp(part.data, whole.data, whole.len) != 0)
                {
                    printf("not ok - %s eol=%d: split at %zu differs\n",
                           argv[i], e, k);
                    failed++;
                    break;
                }
            }

            cuts = malloc(len * sizeof(size_t));

            for (k = 0; k + 1 < len; k++) {
                cuts[k] = k + 1;
            }

            n = len ? len - 1 : 0;
            run(s, len, cuts, n, &part);
            runs++;
            free(cuts);

            if (part.len != whole.len
                || memcmp(part.data, whole.data, whole.len) != 0)
            {
                printf("not ok - %s eol=%d: one byte at a time differs\n",
                       argv[i], e);
                failed++;
            }

            if (s != raw) {
                free(s);
            }
        }

        free(raw);
    }

    printf("sse_split: %d files x 3 line ends, %zu split runs, "
           "%d failures\n", argc - 1, runs, failed);

    return failed ? 1 : 0;
}
