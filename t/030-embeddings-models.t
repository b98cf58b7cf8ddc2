# Embeddings through the passthrough fast path, and the gateway's own
# model list: GET /v1/models and /v1/models/{id}, HEAD, 405 with Allow,
# and llm_pass with a fixed surface.

use Test::Nginx::Socket 'no_plan';

our $Embedding = '{"object":"list","data":[{"object":"embedding","index":0,'
    . '"embedding":[0.0023064255,-0.009327292,0.015797347]}],'
    . '"model":"text-embedding-3-small",'
    . '"usage":{"prompt_tokens":8,"total_tokens":8}}';

# the request the provider gets
sub upreq {
    my ($body, %o) = @_;

    return 'POST ' . ($o{path} // '/v1/embeddings') . " HTTP/1.1\r\n"
           . "Host: 127.0.0.1\r\n"
           . "Content-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . "Accept: application/json\r\n"
           . "Accept-Encoding: identity\r\n"
           . ($o{key} ? "Authorization: Bearer $o{key}\r\n" : '')
           . "\r\n$body";
}

sub reply {
    my $body = shift;

    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . "Connection: close\r\n\r\n$body";
}

# "created" is the time the configuration was loaded: checked, then
# replaced by "T" so that the rest of the body compares exactly
sub created {
    my $body = shift;

    $body =~ s{"created":(\d+)}{
        abs($1 - time) < 3600 ? '"created":T' : "\"created\":BAD($1)"
    }ge;

    return $body;
}

repeat_each(2);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    llm_provider openai type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_provider local type=vllm upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1;

    llm_route gpt-4o openai;
    llm_route ~^ft:(.+)$ openai:$1;
    llm_route smart openai:gpt-4.1 weight=3 local:llama-3.1-70b;
    llm_route text-embedding-3-small openai;
    llm_route embed local:bge-m3;
    llm_route meta-llama/Llama-3.3-70B-Instruct local;
    llm_route default local:llama-3.1-8b;
_EOC_
    }

    if (!defined $block->config || $block->config !~ /\bllm_pass\b/) {
        $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    location /v1/ {
        llm_pass;
        llm_read_timeout 5s;
    }
_EOC_
    }

    if (defined $block->tcp_listen && !defined $block->tcp_query
        && !defined $block->tcp_query_len)
    {
        $block->set_value('tcp_query_auto_timeout', '0.05');
    }
});

run_tests();

__DATA__

=== TEST 1: embeddings: the exact request, the answer as sent
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"text-embedding-3-small","input":"The food was delicious",'
        . '"encoding_format":"float"}')
--- tcp_reply eval: ::reply($::Embedding)
--- request eval
"POST /v1/embeddings\n"
. '{"model":"text-embedding-3-small","input":"The food was delicious",'
. '"encoding_format":"float"}'
--- more_headers
Authorization: Bearer client-key
--- response_headers eval
"Content-Type: application/json\n"
. "Content-Length: " . length($::Embedding) . "\n"
. "X-LLM-Provider: openai\nX-LLM-Model: text-embedding-3-small"
--- response_body eval: $::Embedding
--- no_error_log
[error]



=== TEST 2: embeddings: alias rewritten in the body; an array input and
other fields untouched; usage read
--- config
    location /v1/ {
        llm_pass;
        add_header X-Tokens "$llm_prompt_tokens/$llm_total_tokens";
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"input":["a","b",[1,2,3]],"model":"bge-m3","dimensions":256}')
--- tcp_reply eval: ::reply($::Embedding)
--- request eval
"POST /v1/embeddings\n"
. '{"input":["a","b",[1,2,3]],"model":"embed","dimensions":256}'
--- response_headers
X-LLM-Provider: local
X-LLM-Model: bge-m3
X-Tokens: 8/8
--- response_body eval: $::Embedding
--- no_error_log
[error]



=== TEST 3: embeddings: a regex route's captures; deepseek's empty base
--- http_config
    llm_provider ds type=deepseek upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route ~^ds/(.+)$ ds:$1;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"deepseek-embed","input":"x"}', path => '/embeddings')
--- tcp_reply eval: ::reply($::Embedding)
--- request eval
"POST /v1/embeddings\n" . '{"model":"ds/deepseek-embed","input":"x"}'
--- response_headers
X-LLM-Model: deepseek-embed
--- response_body eval: $::Embedding
--- no_error_log
[error]



=== TEST 4: embeddings: "stream" in the body changes nothing
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"gpt-4o","input":"x","stream":true}')
--- tcp_reply eval: ::reply($::Embedding)
--- request eval
"POST /v1/embeddings\n" . '{"model":"gpt-4o","input":"x","stream":true}'
--- response_body eval: $::Embedding
--- no_error_log
[error]



=== TEST 5: GET /v1/models: exact routes and aliases, in order, not the
regular expressions nor the default; owned_by is the first target
--- request
GET /v1/models
--- response_headers
Content-Type: application/json
--- response_body_filters eval: \&::created
--- response_body
{"object":"list","data":[{"id":"gpt-4o","object":"model","created":T,"owned_by":"openai"},{"id":"smart","object":"model","created":T,"owned_by":"openai"},{"id":"text-embedding-3-small","object":"model","created":T,"owned_by":"openai"},{"id":"embed","object":"model","created":T,"owned_by":"local"},{"id":"meta-llama/Llama-3.3-70B-Instruct","object":"model","created":T,"owned_by":"local"}]}
--- no_error_log
[error]



=== TEST 6: GET /v1/models with a query string and a trailing slash
--- request eval
["GET /v1/models?limit=1", "GET /v1/models/"]
--- response_body_like eval
['^\{"object":"list","data":\[\{"id":"gpt-4o",.*"id":"meta-llama/Llama-3\.3-70B-Instruct",[^\]]*\]\}$',
 '^\{"object":"list","data":\[\{"id":"gpt-4o",.*"id":"meta-llama/Llama-3\.3-70B-Instruct",[^\]]*\]\}$']
--- no_error_log
[error]



=== TEST 7: GET /v1/models without exact routes: an empty list
--- http_config
    llm_provider local type=vllm upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    llm_route ~^llama local;
    llm_route default local;
--- request
GET /v1/models
--- response_body
{"object":"list","data":[]}
--- no_error_log
[error]



=== TEST 8: GET /v1/models without any route
--- http_config
--- request eval
["GET /v1/models", "GET /v1/models/gpt-4o"]
--- error_code eval
[200, 404]
--- response_body eval
["{\"object\":\"list\",\"data\":[]}\n",
 '{"error":{"message":"The requested model does not exist or is not '
 . 'routed by this gateway.","type":"invalid_request_error",'
 . '"param":null,"code":"model_not_found"}}' . "\n"]
--- no_error_log
[error]



=== TEST 9: route names are JSON-escaped in the list
--- http_config
    llm_provider p\q type=vllm upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    llm_route 'back\\slash' p\q;
    llm_route ünïcode p\q;
--- request
GET /v1/models
--- response_body_filters eval: \&::created
--- response_body
{"object":"list","data":[{"id":"back\\slash","object":"model","created":T,"owned_by":"p\\q"},{"id":"ünïcode","object":"model","created":T,"owned_by":"p\\q"}]}
--- no_error_log
[error]



=== TEST 10: GET /v1/models/{id}: an exact route and an alias
--- request eval
["GET /v1/models/gpt-4o", "GET /v1/models/smart"]
--- response_headers eval
["Content-Type: application/json", "Content-Type: application/json"]
--- response_body_filters eval: \&::created
--- response_body eval
['{"id":"gpt-4o","object":"model","created":T,"owned_by":"openai"}' . "\n",
 '{"id":"smart","object":"model","created":T,"owned_by":"openai"}' . "\n"]
--- no_error_log
[error]



=== TEST 11: GET /v1/models/{id}: an id with a slash and capitals, a
trailing slash, a percent-encoded id
--- http_config
    llm_provider openai type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route meta-llama/Llama-3.3-70B-Instruct openai;
    llm_route ft:gpt-4o:acme openai;
--- request eval
["GET /v1/models/meta-llama/Llama-3.3-70B-Instruct",
 "GET /v1/models/meta-llama/Llama-3.3-70B-Instruct/",
 "GET /v1/models/ft%3Agpt-4o%3Aacme"]
--- response_body_filters eval: \&::created
--- response_body eval
['{"id":"meta-llama/Llama-3.3-70B-Instruct","object":"model",'
 . '"created":T,"owned_by":"openai"}' . "\n",
 '{"id":"meta-llama/Llama-3.3-70B-Instruct","object":"model",'
 . '"created":T,"owned_by":"openai"}' . "\n",
 '{"id":"ft:gpt-4o:acme","object":"model","created":T,"owned_by":"openai"}'
 . "\n"]
--- no_error_log
[error]



=== TEST 12: GET /v1/models/{id}: 404 for names that only a regular
expression, the default route or another case would serve
--- request eval
["GET /v1/models/ft:gpt-4o", "GET /v1/models/claude-3-opus",
 "GET /v1/models/GPT-4o", "GET /v1/models/meta-llama/llama-3.3-70b-instruct"]
--- error_code eval
[404, 404, 404, 404]
--- response_body eval
[('{"error":{"message":"The requested model does not exist or is not '
  . 'routed by this gateway.","type":"invalid_request_error",'
  . '"param":null,"code":"model_not_found"}}' . "\n") x 4]
--- no_error_log
[error]



=== TEST 13: HEAD /v1/models and /v1/models/{id}: headers only
--- request eval
["HEAD /v1/models", "HEAD /v1/models/gpt-4o", "HEAD /v1/models/nope"]
--- error_code eval
[200, 200, 404]
--- response_headers eval
["Content-Type: application/json", "Content-Type: application/json",
 "Content-Type: application/json"]
--- response_body eval
["", "", ""]
--- no_error_log
[error]



=== TEST 14: 405 with Allow: GET, HEAD for other methods on the models
--- request eval
["POST /v1/models\n{}", "DELETE /v1/models/gpt-4o", "PUT /v1/models/gpt-4o\n{}",
 "PATCH /v1/models"]
--- error_code eval
[405, 405, 405, 405]
--- response_headers eval
[("Allow: GET, HEAD\nContent-Type: application/json") x 4]
--- response_body eval
[('{"error":{"message":"Method not allowed for this endpoint.",'
  . '"type":"invalid_request_error","param":null,'
  . '"code":"method_not_allowed"}}' . "\n") x 4]
--- no_error_log
[error]



=== TEST 15: 405 with Allow: POST for other methods on chat and
embeddings
--- request eval
["GET /v1/chat/completions", "GET /v1/embeddings", "HEAD /v1/embeddings",
 "PUT /v1/chat/completions\n{}", "DELETE /v1/embeddings"]
--- error_code eval
[405, 405, 405, 405, 405]
--- response_headers eval
[("Allow: POST") x 5]
--- response_body_like eval
['"code":"method_not_allowed"', '"code":"method_not_allowed"', '^$',
 '"code":"method_not_allowed"', '"code":"method_not_allowed"']
--- no_error_log
[error]



=== TEST 16: llm_pass embeddings: a fixed surface whatever the URI
--- config
    location = /embed {
        llm_pass embeddings;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"bge-m3","input":"x"}')
--- tcp_reply eval: ::reply($::Embedding)
--- request eval
"POST /embed\n" . '{"model":"embed","input":"x"}'
--- response_body eval: $::Embedding
--- no_error_log
[error]



=== TEST 17: llm_pass embeddings on a chat URI: still embeddings
--- config
    location = /v2/chat/completions {
        llm_pass embeddings;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"gpt-4o","input":"x"}')
--- tcp_reply eval: ::reply($::Embedding)
--- request eval
"POST /v2/chat/completions\n" . '{"model":"gpt-4o","input":"x"}'
--- response_body eval: $::Embedding
--- no_error_log
[error]



=== TEST 18: llm_pass chat on an embeddings URI: chat, which wants
"messages"
--- config
    location = /v2/embeddings {
        llm_pass chat;
    }
--- request eval
"POST /v2/embeddings\n" . '{"model":"gpt-4o","input":"x"}'
--- error_code: 400
--- response_body_like: "code":"missing_required_parameter"
--- no_error_log
[error]



=== TEST 19: llm_pass models: the list at any URI, an id under /models/,
GET and HEAD only
--- config
    location /catalog/ {
        llm_pass models;
    }
--- request eval
["GET /catalog/", "GET /catalog/models/embed", "POST /catalog/\n{}",
 "GET /catalog/chat/completions"]
--- error_code eval
[200, 200, 405, 200]
--- response_body_like eval
['^\{"object":"list","data":\[\{"id":"gpt-4o",',
 '^\{"id":"embed","object":"model","created":\d+,"owned_by":"local"\}$',
 '"code":"method_not_allowed"',
 '^\{"object":"list","data":\[\{"id":"gpt-4o",']
--- no_error_log
[error]



=== TEST 20: llm_pass chat: POST only, any URI
--- config
    location = /chat {
        llm_pass chat;
    }
--- request eval
["GET /chat", "POST /chat\n" . '{"model":"gpt-4o","input":"x"}']
--- error_code eval
[405, 400]
--- response_headers eval
["Allow: POST", "!Allow"]
--- response_body_like eval
['"code":"method_not_allowed"', "'messages'"]
--- no_error_log
[error]



=== TEST 21: llm_pass auto: an unknown endpoint under it is a JSON 404
--- config
    location /api/ {
        llm_pass auto;
    }
--- request eval
["GET /api/", "POST /api/completions\n{}", "GET /api/models/"]
--- error_code eval
[404, 404, 200]
--- response_body_like eval
['^\{"error":\{"message":"Unknown API endpoint\.","type":"invalid_request_error","param":null,"code":"not_found"\}\}$',
 '"code":"not_found"',
 '^\{"object":"list",']
--- no_error_log
[error]



=== TEST 22: embeddings: a second "model" key is refused
--- request eval
"POST /v1/embeddings\n"
. '{"model":"text-embedding-3-small","input":"x","model":"embed"}'
--- error_code: 400
--- response_body
{"error":{"message":"The JSON body has more than one \"model\".","type":"invalid_request_error","param":null,"code":"invalid_json"}}
--- no_error_log
[error]
