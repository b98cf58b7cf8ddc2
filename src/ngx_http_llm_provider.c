
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_provider.h"


/*
 * Vendor presets of the OpenAI-compatible wire format; the quirks are
 * the differences listed in the project's PROVIDERS.md, section 4.
 * Then the native formats, which requests and answers are translated to.
 */

static const ngx_http_llm_preset_t  ngx_http_llm_presets[] = {

    { ngx_string("openai"), &ngx_http_llm_provider_openai,
      ngx_string("/v1"), ngx_string("api.openai.com"), 0 },

    { ngx_string("deepseek"), &ngx_http_llm_provider_openai,
      ngx_string(""), ngx_string("api.deepseek.com"), 0 },

    { ngx_string("mistral"), &ngx_http_llm_provider_openai,
      ngx_string("/v1"), ngx_string("api.mistral.ai"),
      NGX_HTTP_LLM_Q_NO_STREAM_OPTIONS|NGX_HTTP_LLM_Q_FLAT_ERROR },

    { ngx_string("groq"), &ngx_http_llm_provider_openai,
      ngx_string("/openai/v1"), ngx_string("api.groq.com"),
      NGX_HTTP_LLM_Q_STRIP_NAME },

    { ngx_string("together"), &ngx_http_llm_provider_openai,
      ngx_string("/v1"), ngx_string("api.together.xyz"), 0 },

    { ngx_string("openrouter"), &ngx_http_llm_provider_openai,
      ngx_string("/api/v1"), ngx_string("openrouter.ai"), 0 },

    { ngx_string("xai"), &ngx_http_llm_provider_openai,
      ngx_string("/v1"), ngx_string("api.x.ai"), 0 },

    { ngx_string("vllm"), &ngx_http_llm_provider_openai,
      ngx_string("/v1"), ngx_null_string,
      NGX_HTTP_LLM_Q_NO_KEY|NGX_HTTP_LLM_Q_FLAT_ERROR },

    { ngx_string("ollama"), &ngx_http_llm_provider_openai,
      ngx_string("/v1"), ngx_null_string, NGX_HTTP_LLM_Q_NO_KEY },

    { ngx_string("llamacpp"), &ngx_http_llm_provider_openai,
      ngx_string("/v1"), ngx_null_string, NGX_HTTP_LLM_Q_NO_KEY },

    /* Azure OpenAI: version=YYYY-MM-DD[-preview] (deployment URLs) or v1 */

    { ngx_string("azure"), &ngx_http_llm_provider_azure,
      ngx_string("/openai"), ngx_null_string, 0 },

    /* native formats, translated */

    { ngx_string("anthropic"), &ngx_http_llm_provider_anthropic,
      ngx_string("/v1"), ngx_string("api.anthropic.com"), 0 },

    { ngx_string("gemini"), &ngx_http_llm_provider_gemini,
      ngx_string("/v1beta"), ngx_string("generativelanguage.googleapis.com"),
      0 },

    /* AWS Bedrock Converse: region=, key=ACCESS_KEY_ID:SECRET[:TOKEN] */

    { ngx_string("bedrock"), &ngx_http_llm_provider_bedrock,
      ngx_string(""), ngx_null_string, 0 },

    { ngx_null_string, NULL, ngx_null_string, ngx_null_string, 0 }
};


const ngx_http_llm_preset_t *
ngx_http_llm_preset_find(ngx_str_t *name)
{
    const ngx_http_llm_preset_t  *p;

    for (p = ngx_http_llm_presets; p->name.len; p++) {
        if (p->name.len == name->len
            && ngx_strncasecmp(p->name.data, name->data, name->len) == 0)
        {
            return p;
        }
    }

    return NULL;
}


/*
 * An output buffer of at least "size" bytes, recycled through the
 * upstream's free chain (u->free_bufs): memory stays flat however long
 * the stream is.
 */

ngx_chain_t *
ngx_http_llm_get_buf(ngx_http_request_t *r, size_t size)
{
    size_t                n;
    ngx_buf_t            *b;
    ngx_chain_t          *cl;
    ngx_http_upstream_t  *u;

    u = r->upstream;

    cl = ngx_chain_get_free_buf(r->pool, &u->free_bufs);
    if (cl == NULL) {
        return NULL;
    }

    b = cl->buf;

    if (b->start == NULL || (size_t) (b->end - b->start) < size) {

        for (n = 512; n < size; n <<= 1) { /* void */ }

        b->start = ngx_palloc(r->pool, n);
        if (b->start == NULL) {
            return NULL;
        }

        b->end = b->start + n;
    }

    b->pos = b->start;
    b->last = b->start;
    b->temporary = 1;
    b->memory = 0;
    b->flush = 0;
    b->last_buf = 0;
    b->tag = u->output.tag;

    cl->next = NULL;

    return cl;
}
