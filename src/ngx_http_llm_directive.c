
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_directive.h"
#include "ngx_http_llm_provider.h"
#include "ngx_http_llm_router.h"


#define NGX_HTTP_LLM_KEY_FILE_MAX  8192


static ngx_int_t ngx_http_llm_read_key(ngx_conf_t *cf,
    ngx_http_llm_provider_conf_t *pc, ngx_str_t *src, ngx_uint_t optional);
static ngx_int_t ngx_http_llm_valid_token(ngx_str_t *s);
static ngx_int_t ngx_http_llm_header_param(ngx_conf_t *cf, ngx_str_t *param,
    ngx_array_t **headers, const char *directive, ngx_str_t *name);
static ngx_int_t ngx_http_llm_route_condition(ngx_conf_t *cf,
    ngx_http_llm_route_t *route, ngx_str_t *param);


static ngx_str_t  ngx_http_llm_own_headers[] = {
    ngx_string("Host"),
    ngx_string("Content-Length"),
    ngx_string("Content-Type"),
    ngx_string("Transfer-Encoding"),
    ngx_string("Connection"),
    ngx_string("Keep-Alive"),
    ngx_string("TE"),
    ngx_string("Trailer"),
    ngx_string("Upgrade"),
    ngx_string("Accept-Encoding"),
    ngx_null_string
};


char *
ngx_http_llm_provider_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    u_char                         *p;
    ngx_str_t                      *value, s, key_src;
    ngx_url_t                       url;
    ngx_int_t                       n, responses;
    ngx_uint_t                      i, optional, has_key, tls_set, beta;
    ngx_keyval_t                   *kv;
    ngx_http_llm_provider_conf_t   *pc, **ppc;
    const ngx_http_llm_preset_t    *preset;

    value = cf->args->elts;

    ppc = lmcf->providers.elts;

    for (i = 0; i < lmcf->providers.nelts; i++) {
        if (ppc[i]->name.len == value[1].len
            && ngx_strncmp(ppc[i]->name.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate llm_provider \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    /* ":" separates the provider from the model in llm_route targets */

    if (ngx_http_llm_valid_token(&value[1]) != NGX_OK
        || ngx_strlchr(value[1].data, value[1].data + value[1].len, ':'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid llm_provider name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    pc = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_provider_conf_t));
    if (pc == NULL) {
        return NGX_CONF_ERROR;
    }

    pc->name = value[1];
    pc->file = cf->conf_file->file.name.data;
    pc->line = cf->conf_file->line;

    preset = NULL;
    optional = 0;
    has_key = 0;
    tls_set = 0;
    beta = 0;
    responses = NGX_CONF_UNSET;
    ngx_str_null(&key_src);
    ngx_str_null(&pc->base);
    pc->base.data = NULL;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "type=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            preset = ngx_http_llm_preset_find(&s);

            if (preset == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "unknown llm provider type \"%V\"", &s);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "upstream=", 9) == 0) {
            pc->upstream_name.data = value[i].data + 9;
            pc->upstream_name.len = value[i].len - 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "host=", 5) == 0) {
            pc->host.data = value[i].data + 5;
            pc->host.len = value[i].len - 5;

            if (pc->host.len == 0
                || ngx_http_llm_valid_token(&pc->host) != NGX_OK)
            {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "base=", 5) == 0) {
            pc->base.data = value[i].data + 5;
            pc->base.len = value[i].len - 5;

            if (ngx_http_llm_valid_token(&pc->base) != NGX_OK
                || (pc->base.len && pc->base.data[0] != '/')
                || ngx_strlchr(pc->base.data, pc->base.data + pc->base.len,
                               '?'))
            {
                goto invalid;
            }

            /* "/v1/" and "/v1" are the same prefix */

            if (pc->base.len && pc->base.data[pc->base.len - 1] == '/') {
                pc->base.len--;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "key=", 4) == 0) {
            key_src.data = value[i].data + 4;
            key_src.len = value[i].len - 4;
            has_key = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "header=", 7) == 0) {
            if (ngx_http_llm_header_param(cf, &value[i], &pc->headers,
                                          "llm_provider", &pc->name)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "max_tokens=", 11) == 0) {
            n = ngx_atoi(value[i].data + 11, value[i].len - 11);

            if (n == NGX_ERROR || n < 1) {
                goto invalid;
            }

            pc->max_tokens = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "version=", 8) == 0) {
            pc->version.data = value[i].data + 8;
            pc->version.len = value[i].len - 8;

            if (pc->version.len == 0
                || ngx_http_llm_valid_token(&pc->version) != NGX_OK)
            {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "region=", 7) == 0) {
            pc->region.data = value[i].data + 7;
            pc->region.len = value[i].len - 7;

            if (pc->region.len == 0
                || ngx_http_llm_valid_token(&pc->region) != NGX_OK
                || ngx_strlchr(pc->region.data,
                               pc->region.data + pc->region.len, '/'))
            {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "beta=", 5) == 0) {

            /* Anthropic's feature flags: an "anthropic-beta" header */

            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            if (s.len == 0 || ngx_http_llm_valid_token(&s) != NGX_OK) {
                goto invalid;
            }

            if (pc->headers == NULL) {
                pc->headers = ngx_array_create(cf->pool, 2,
                                               sizeof(ngx_keyval_t));
                if (pc->headers == NULL) {
                    return NGX_CONF_ERROR;
                }
            }

            kv = ngx_array_push(pc->headers);
            if (kv == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_str_set(&kv->key, "anthropic-beta");
            kv->value = s;
            beta = 1;

            continue;
        }

        if (ngx_strncmp(value[i].data, "responses=", 10) == 0) {

            /* /v1/responses: passed through (native) or translated */

            s.data = value[i].data + 10;
            s.len = value[i].len - 10;

            if (s.len == 6 && ngx_strncmp(s.data, "native", 6) == 0) {
                responses = 1;

            } else if (s.len == 9 && ngx_strncmp(s.data, "translate", 9) == 0)
            {
                responses = 0;

            } else {
                goto invalid;
            }

            continue;
        }

        if (value[i].len == 3 && ngx_strncmp(value[i].data, "tls", 3) == 0) {
            pc->tls = 1;
            tls_set = 1;
            continue;
        }

        if (value[i].len == 8
            && ngx_strncmp(value[i].data, "optional", 8) == 0)
        {
            optional = 1;
            continue;
        }

        goto invalid;
    }

    if (preset == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llm_provider \"%V\" must have \"type\" parameter",
                           &pc->name);
        return NGX_CONF_ERROR;
    }

    if (beta && preset->adapter != &ngx_http_llm_provider_anthropic) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"beta\" of llm_provider \"%V\" is only for "
                           "type=anthropic", &pc->name);
        return NGX_CONF_ERROR;
    }

    if (preset->adapter == &ngx_http_llm_provider_azure
        && pc->version.len == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llm_provider \"%V\" of type \"azure\" needs "
                           "\"version=\" (an api-version, or \"v1\")",
                           &pc->name);
        return NGX_CONF_ERROR;
    }

    if ((preset->adapter == &ngx_http_llm_provider_bedrock)
        != (pc->region.len != 0))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           pc->region.len
                           ? "\"region\" of llm_provider \"%V\" is only "
                             "for type=bedrock"
                           : "llm_provider \"%V\" of type \"bedrock\" needs "
                             "\"region=\"", &pc->name);
        return NGX_CONF_ERROR;
    }

    if (responses == 1 && !preset->adapter->openai_format) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"responses=native\" of llm_provider \"%V\" is "
                           "only for OpenAI-compatible types", &pc->name);
        return NGX_CONF_ERROR;
    }

    if (pc->max_tokens && preset->adapter->openai_format) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"max_tokens\" of llm_provider \"%V\" is only "
                           "for translated types such as anthropic",
                           &pc->name);
        return NGX_CONF_ERROR;
    }

    if (pc->upstream_name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llm_provider \"%V\" must have \"upstream\" "
                           "parameter", &pc->name);
        return NGX_CONF_ERROR;
    }

    pc->type = preset->adapter;
    pc->quirks = preset->quirks;


    if (pc->base.data == NULL) {
        pc->base = preset->base;
    }

    /* the upstream{} block, or host:port as an implicit one */

    ngx_memzero(&url, sizeof(ngx_url_t));

    url.url = pc->upstream_name;
    url.no_resolve = 1;

    pc->upstream = ngx_http_upstream_add(cf, &url, 0);
    if (pc->upstream == NULL) {
        return NGX_CONF_ERROR;
    }

    if (pc->host.len == 0 && pc->tls
        && preset->adapter == &ngx_http_llm_provider_bedrock)
    {
        /* bedrock-runtime.{region}.amazonaws.com */

        pc->host.len = sizeof("bedrock-runtime..amazonaws.com") - 1
                       + pc->region.len;
        pc->host.data = ngx_pnalloc(cf->pool, pc->host.len);
        if (pc->host.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(pc->host.data, "bedrock-runtime.%V.amazonaws.com",
                    &pc->region);
    }

    if (pc->host.len == 0) {
        if (pc->tls && preset->host.len) {
            pc->host = preset->host;

        } else {
            pc->host = pc->upstream_name;

            /* strip a port from "host:port" */

            p = ngx_strlchr(pc->host.data, pc->host.data + pc->host.len, ':');
            if (p && pc->host.data[0] != '[') {
                pc->host.len = p - pc->host.data;
            }
        }
    }

    (void) tls_set;

    /*
     * /v1/responses is served natively by OpenAI itself (its host) and by
     * Azure's v1 API: passed through there unless responses=translate;
     * translated for any other OpenAI-compatible server (vLLM, a proxy, a
     * mock) unless responses=native
     */

    if (responses == NGX_CONF_UNSET) {
        if (preset->adapter == &ngx_http_llm_provider_azure) {
            responses = (pc->version.len == 2
                         && ngx_strncmp(pc->version.data, "v1", 2) == 0);

        } else {
            responses = (preset->adapter == &ngx_http_llm_provider_openai
                         && pc->host.len == sizeof("api.openai.com") - 1
                         && ngx_strncasecmp(pc->host.data,
                                            (u_char *) "api.openai.com",
                                            pc->host.len) == 0);
        }
    }

    if (responses) {
        pc->quirks |= NGX_HTTP_LLM_Q_RESPONSES;
    }

    if (pc->tls) {
        lmcf->has_tls = 1;
    }

    /* credentials */

    if (!has_key) {
        if (!(pc->quirks & NGX_HTTP_LLM_Q_NO_KEY)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "llm_provider \"%V\" of type \"%V\" needs "
                               "\"key=env:NAME\", \"key=file:PATH\" "
                               "or \"key=none\"", &pc->name, &preset->name);
            return NGX_CONF_ERROR;
        }

    } else if (ngx_process == NGX_PROCESS_SIGNALLER) {

        /*
         * "nginx -s reload" parses the configuration only to find the
         * pid file: it needs no key, and often runs without them in its
         * environment (systemd's ExecReload, an operator's shell)
         */

    } else if (!(key_src.len == 4
                 && ngx_strncmp(key_src.data, "none", 4) == 0))
    {
        if (ngx_http_llm_read_key(cf, pc, &key_src, optional) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    /* extra headers, prebuilt as request lines */

    if (ngx_http_llm_headers_build(cf->pool, pc->headers, NULL,
                                   &pc->extra_headers)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    pc->index = lmcf->providers.nelts;

    ppc = ngx_array_push(&lmcf->providers);
    if (ppc == NULL) {
        return NGX_CONF_ERROR;
    }

    *ppc = pc;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_llm_read_key(ngx_conf_t *cf, ngx_http_llm_provider_conf_t *pc,
    ngx_str_t *src, ngx_uint_t optional)
{
    u_char      *p, *last, buf[NGX_HTTP_LLM_KEY_FILE_MAX];
    ssize_t      n;
    ngx_str_t    name;
    ngx_file_t   file;

    pc->key_source = *src;

    if (src->len > 4 && ngx_strncmp(src->data, "env:", 4) == 0) {

        name.len = src->len - 4;
        name.data = ngx_pnalloc(cf->pool, name.len + 1);
        if (name.data == NULL) {
            return NGX_ERROR;
        }

        ngx_cpystrn(name.data, src->data + 4, name.len + 1);

        p = (u_char *) getenv((char *) name.data);

        if (p == NULL || *p == '\0') {
            if (optional) {
                ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                                   "environment variable \"%V\" is not set, "
                                   "llm_provider \"%V\" is disabled",
                                   &name, &pc->name);
                pc->disabled = 1;
                return NGX_OK;
            }

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "environment variable \"%V\" for "
                               "llm_provider \"%V\" is not set",
                               &name, &pc->name);
            return NGX_ERROR;
        }

        last = p + ngx_strlen(p);

    } else if (src->len > 5 && ngx_strncmp(src->data, "file:", 5) == 0) {

        name.len = src->len - 5;
        name.data = src->data + 5;

        if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_memzero(&file, sizeof(ngx_file_t));

        file.name = name;
        file.log = cf->log;
        file.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

        if (file.fd == NGX_INVALID_FILE) {
            if (optional) {
                ngx_conf_log_error(NGX_LOG_WARN, cf, ngx_errno,
                                   ngx_open_file_n " \"%V\" failed, "
                                   "llm_provider \"%V\" is disabled",
                                   &name, &pc->name);
                pc->disabled = 1;
                return NGX_OK;
            }

            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               ngx_open_file_n " \"%V\" failed", &name);
            return NGX_ERROR;
        }

        n = ngx_read_file(&file, buf, sizeof(buf), 0);

        if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                          ngx_close_file_n " \"%V\" failed", &name);
        }

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        if ((size_t) n == sizeof(buf)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "key file \"%V\" is too large", &name);
            return NGX_ERROR;
        }

        p = buf;
        last = buf + n;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid key source \"%V\" in llm_provider "
                           "\"%V\", use env:NAME, file:PATH or none",
                           src, &pc->name);
        return NGX_ERROR;
    }

    /* trim surrounding whitespace, as in files written by "echo" */

    while (p < last && (*p == ' ' || *p == '\t' || *p == CR || *p == LF)) {
        p++;
    }

    while (last > p
           && (last[-1] == ' ' || last[-1] == '\t' || last[-1] == CR
               || last[-1] == LF))
    {
        last--;
    }

    if (p == last) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty key for llm_provider \"%V\"", &pc->name);
        return NGX_ERROR;
    }

    /* a key goes into a header line: no control characters */

    for (n = 0; p + n < last; n++) {
        if (p[n] < 0x20 || p[n] == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid character in the key for "
                               "llm_provider \"%V\"", &pc->name);
            return NGX_ERROR;
        }
    }

    pc->key.len = last - p;
    pc->key.data = ngx_pnalloc(cf->pool, pc->key.len);
    if (pc->key.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(pc->key.data, p, pc->key.len);

    ngx_explicit_memzero(buf, sizeof(buf));

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_valid_token(ngx_str_t *s)
{
    size_t  i;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] <= 0x20 || s->data[i] == 0x7f || s->data[i] == '"') {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * header=Name:value of llm_provider and of llm_route targets: the
 * framing and hop-by-hop headers are the module's
 */

static ngx_int_t
ngx_http_llm_header_param(ngx_conf_t *cf, ngx_str_t *param,
    ngx_array_t **headers, const char *directive, ngx_str_t *name)
{
    u_char        *p;
    ngx_str_t      s, *hp;
    ngx_keyval_t  *kv;

    s.data = param->data + 7;
    s.len = param->len - 7;

    p = ngx_strlchr(s.data, s.data + s.len, ':');

    if (p == NULL || p == s.data
        || ngx_strlchr(s.data, s.data + s.len, CR)
        || ngx_strlchr(s.data, s.data + s.len, LF)
        || ngx_strlchr(s.data, p, ' '))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid header \"%V\" in %s \"%V\", "
                           "use header=Name:value", &s, directive, name);
        return NGX_ERROR;
    }

    for (hp = ngx_http_llm_own_headers; hp->len; hp++) {
        if ((size_t) (p - s.data) == hp->len
            && ngx_strncasecmp(s.data, hp->data, hp->len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "header \"%V\" in %s \"%V\" is set by the "
                               "module", hp, directive, name);
            return NGX_ERROR;
        }
    }

    if (*headers == NULL) {
        *headers = ngx_array_create(cf->pool, 2, sizeof(ngx_keyval_t));
        if (*headers == NULL) {
            return NGX_ERROR;
        }
    }

    kv = ngx_array_push(*headers);
    if (kv == NULL) {
        return NGX_ERROR;
    }

    kv->key.data = s.data;
    kv->key.len = p - s.data;

    for (p++; p < s.data + s.len && *p == ' '; p++) { /* void */ }

    kv->value.data = p;
    kv->value.len = s.data + s.len - p;

    return NGX_OK;
}


/*
 * The extra header lines of a provider, "Name: value\r\n" each: those of
 * "base" that "over" does not name again, then those of "over"
 */

ngx_int_t
ngx_http_llm_headers_build(ngx_pool_t *pool, ngx_array_t *base,
    ngx_array_t *over, ngx_str_t *out)
{
    u_char        *p;
    size_t         len;
    ngx_uint_t     i, j, k, n;
    ngx_array_t   *list[2];
    ngx_keyval_t  *kv, *ov;

    list[0] = base;
    list[1] = over;

    for (n = 0; n < 2; n++) {
        len = 0;
        p = out->data;

        for (k = 0; k < 2; k++) {
            if (list[k] == NULL) {
                continue;
            }

            kv = list[k]->elts;

            for (i = 0; i < list[k]->nelts; i++) {

                if (k == 0 && over) {
                    ov = over->elts;

                    for (j = 0; j < over->nelts; j++) {
                        if (ov[j].key.len == kv[i].key.len
                            && ngx_strncasecmp(ov[j].key.data,
                                               kv[i].key.data,
                                               kv[i].key.len) == 0)
                        {
                            break;
                        }
                    }

                    if (j < over->nelts) {
                        continue;
                    }
                }

                if (n == 0) {
                    len += kv[i].key.len + 2 + kv[i].value.len + 2;
                    continue;
                }

                p = ngx_cpymem(p, kv[i].key.data, kv[i].key.len);
                *p++ = ':'; *p++ = ' ';
                p = ngx_cpymem(p, kv[i].value.data, kv[i].value.len);
                *p++ = CR; *p++ = LF;
            }
        }

        if (n == 1) {
            break;
        }

        if (len == 0) {
            /* never NULL: the request writers copy it with ngx_cpymem() */
            ngx_str_set(out, "");
            return NGX_OK;
        }

        out->data = ngx_pnalloc(pool, len);
        if (out->data == NULL) {
            return NGX_ERROR;
        }

        out->len = len;
    }

    return NGX_OK;
}


static ngx_str_t  ngx_http_llm_strategies[] = {
    ngx_string("weighted"),
    ngx_string("priority"),
    ngx_string("least-busy"),
    ngx_string("lowest-latency"),
    ngx_string("cheapest"),
    ngx_null_string
};


/*
 * llm_route pattern target [weight=N] [max_tokens=N] [header=Name:value]
 *           ... [fallback=target ...] [strategy=name] [if=condition ...]
 */

char *
ngx_http_llm_route_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    u_char                   *p;
    ngx_int_t                 n;
    ngx_str_t                *value, arg, s;
    ngx_uint_t                i, k, fallback, strategy;
    ngx_regex_compile_t       rc;
    ngx_http_llm_route_t     *route;
    ngx_http_llm_target_t    *t;
    u_char                    errstr[NGX_MAX_CONF_ERRSTR];

    value = cf->args->elts;

    route = ngx_array_push(&lmcf->routes);
    if (route == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(route, sizeof(ngx_http_llm_route_t));

    route->pattern = value[1];
    route->file = cf->conf_file->file.name.data;
    route->line = cf->conf_file->line;

    if (ngx_array_init(&route->targets, cf->pool, 2,
                       sizeof(ngx_http_llm_target_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (value[1].len == 7 && ngx_strncmp(value[1].data, "default", 7) == 0) {
        route->is_default = 1;

    } else if (value[1].len > 1 && value[1].data[0] == '~') {

        ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

        rc.pattern.data = value[1].data + 1;
        rc.pattern.len = value[1].len - 1;

        if (rc.pattern.data[0] == '*') {
            rc.pattern.data++;
            rc.pattern.len--;
            rc.options = NGX_REGEX_CASELESS;
        }

        rc.pool = cf->pool;
        rc.err.len = NGX_MAX_CONF_ERRSTR;
        rc.err.data = errstr;

        if (rc.pattern.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty regular expression in llm_route "
                               "\"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }

        if (ngx_regex_compile(&rc) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V", &rc.err);
            return NGX_CONF_ERROR;
        }

        route->regex = rc.regex;

        if (rc.captures > 9) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "too many captures in \"%V\", at most 9",
                               &value[1]);
            return NGX_CONF_ERROR;
        }

    } else if (ngx_http_llm_valid_token(&value[1]) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid model name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    t = NULL;
    fallback = 0;
    strategy = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "weight=", 7) == 0) {

            if (t == NULL || t->fallback) {
                goto invalid;
            }

            n = ngx_atoi(value[i].data + 7, value[i].len - 7);

            if (n == NGX_ERROR || n < 1 || n > 1000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid weight \"%V\", "
                                   "expected 1..1000", &value[i]);
                return NGX_CONF_ERROR;
            }

            t->weight = n;
            continue;
        }

        /* overrides of the target before them */

        if (ngx_strncmp(value[i].data, "max_tokens=", 11) == 0) {

            n = ngx_atoi(value[i].data + 11, value[i].len - 11);

            if (t == NULL || t->max_tokens || n == NGX_ERROR || n < 1) {
                goto invalid;
            }

            t->max_tokens = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "header=", 7) == 0) {

            if (t == NULL) {
                goto invalid;
            }

            if (ngx_http_llm_header_param(cf, &value[i], &t->headers,
                                          "llm_route", &value[1])
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "strategy=", 9) == 0) {

            if (strategy) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate \"strategy\" in llm_route "
                                   "\"%V\"", &value[1]);
                return NGX_CONF_ERROR;
            }

            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            for (k = 0; ngx_http_llm_strategies[k].len; k++) {
                if (ngx_http_llm_strategies[k].len == s.len
                    && ngx_strncmp(ngx_http_llm_strategies[k].data, s.data,
                                   s.len) == 0)
                {
                    break;
                }
            }

            if (ngx_http_llm_strategies[k].len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "unknown strategy \"%V\" in llm_route "
                                   "\"%V\", use weighted, priority, "
                                   "least-busy, lowest-latency or cheapest",
                                   &s, &value[1]);
                return NGX_CONF_ERROR;
            }

            route->strategy = k;
            strategy = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "if=", 3) == 0) {
            if (ngx_http_llm_route_condition(cf, route, &value[i])
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        /* "fallback=provider[:model]": ordered, after the weighted ones */

        if (ngx_strncmp(value[i].data, "fallback=", 9) == 0) {
            arg.data = value[i].data + 9;
            arg.len = value[i].len - 9;
            fallback = 1;

        } else if (fallback) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "target \"%V\" after a fallback in "
                               "llm_route \"%V\"", &value[i], &value[1]);
            return NGX_CONF_ERROR;

        } else {
            arg = value[i];
        }

        if (ngx_strlchr(arg.data, arg.data + arg.len, '=')) {
            goto invalid;
        }

        t = ngx_array_push(&route->targets);
        if (t == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(t, sizeof(ngx_http_llm_target_t));

        t->weight = 1;
        t->fallback = fallback;
        t->provider_name = arg;
        t->name = arg;

        if (!fallback) {
            route->nprimary++;
        }

        p = ngx_strlchr(arg.data, arg.data + arg.len, ':');

        if (p) {
            t->provider_name.len = p - arg.data;
            t->model.data = p + 1;
            t->model.len = arg.data + arg.len - p - 1;

            if (t->model.len == 0
                || ngx_http_llm_valid_token(&t->model) != NGX_OK)
            {
                goto invalid;
            }
        }

        if (t->provider_name.len == 0) {
            goto invalid;
        }
    }

    if (route->nprimary == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llm_route \"%V\" has no target", &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}


/*
 * if=stream, if=tools, if=images (each also with "!"), if=tokens>N (<,
 * <=, >=), if=$variable (true when neither empty nor "0"), if=!$variable
 */

static ngx_int_t
ngx_http_llm_route_condition(ngx_conf_t *cf, ngx_http_llm_route_t *route,
    ngx_str_t *param)
{
    u_char                            *p, *last;
    ngx_int_t                          n;
    ngx_str_t                          s;
    ngx_http_llm_cond_t               *cond;
    ngx_http_compile_complex_value_t   ccv;

    s.data = param->data + 3;
    s.len = param->len - 3;

    if (route->conditions == NULL) {
        route->conditions = ngx_array_create(cf->pool, 2,
                                             sizeof(ngx_http_llm_cond_t));
        if (route->conditions == NULL) {
            return NGX_ERROR;
        }
    }

    cond = ngx_array_push(route->conditions);
    if (cond == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(cond, sizeof(ngx_http_llm_cond_t));

    if (s.len && s.data[0] == '!') {
        cond->negate = 1;
        s.data++;
        s.len--;
    }

#define ngx_http_llm_cond_is(w)                                               \
    (s.len == sizeof(w) - 1 && ngx_strncmp(s.data, w, s.len) == 0)

    if (ngx_http_llm_cond_is("stream")) {
        cond->type = NGX_HTTP_LLM_COND_STREAM;
        return NGX_OK;
    }

    if (ngx_http_llm_cond_is("tools")) {
        cond->type = NGX_HTTP_LLM_COND_TOOLS;
        return NGX_OK;
    }

    if (ngx_http_llm_cond_is("images")) {
        cond->type = NGX_HTTP_LLM_COND_IMAGES;
        return NGX_OK;
    }

#undef ngx_http_llm_cond_is

    if (s.len > 1 && s.data[0] == '$') {
        cond->type = NGX_HTTP_LLM_COND_VAR;

        cond->value = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (cond->value == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &s;
        ccv.complex_value = cond->value;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (s.len > 6 && ngx_strncmp(s.data, "tokens", 6) == 0 && !cond->negate) {
        p = s.data + 6;
        last = s.data + s.len;

        if (*p == '<' || *p == '>') {
            cond->op = *p++;

            if (p < last && *p == '=') {
                cond->op = (cond->op == '<') ? 'l' : 'g';
                p++;
            }

            n = ngx_atoi(p, last - p);

            if (n != NGX_ERROR && n <= 100000000) {
                cond->type = NGX_HTTP_LLM_COND_TOKENS;
                cond->tokens = n;
                return NGX_OK;
            }
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid condition \"%V\" in llm_route \"%V\", use "
                       "if=stream, if=tools, if=images, if=$variable (each "
                       "may be negated with \"!\") or if=tokens>N (<, <=, "
                       ">=)",
                       param, &route->pattern);

    return NGX_ERROR;
}


char *
ngx_http_llm_pass_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_loc_conf_t *llcf = conf;

    ngx_str_t  *value;

    if (llcf->enabled != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    llcf->enabled = 1;
    llcf->surface = NGX_HTTP_LLM_SURFACE_AUTO;

    if (cf->args->nelts == 1) {
        return NGX_CONF_OK;
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "auto") == 0) {
        llcf->surface = NGX_HTTP_LLM_SURFACE_AUTO;

    } else if (ngx_strcmp(value[1].data, "chat") == 0) {
        llcf->surface = NGX_HTTP_LLM_SURFACE_CHAT;

    } else if (ngx_strcmp(value[1].data, "embeddings") == 0) {
        llcf->surface = NGX_HTTP_LLM_SURFACE_EMBEDDINGS;

    } else if (ngx_strcmp(value[1].data, "models") == 0) {
        llcf->surface = NGX_HTTP_LLM_SURFACE_MODELS;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
