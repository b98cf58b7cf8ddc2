# llm_price and $llm_cost (price math, exact and regex prices, the model
# sent to the provider first), and what a request reserves at admission,
# as x-ratelimit-remaining-tokens shows it on a fresh zone: its prompt at
# 4 bytes a token plus max_tokens (the larger of max_tokens and
# max_completion_tokens, keys decoded, times "n"), or llm_reserve_tokens;
# the reservation settled with the usage of answers and streams.

use Test::Nginx::Socket 'no_plan';
use t::LLMCanary;       # the canary under the real Test::Nginx too

our $Key = 'sk-cost-CANARY-5a6b7c8d9e0f1a2b';

our $HttpConfig = <<"_EOC_";
    log_format cost '\$llm_key_name \$llm_upstream_model \$llm_cost';

    llm_zone llm:64k;
    llm_provider mock type=openai upstream=127.0.0.1:\$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;

    llm_route gpt-4o mock;
    llm_route smart mock:gpt-4o-2024-08-06;
    llm_route free mock:free-model;
    llm_route text-embedding-3-small mock;

    llm_price gpt-4o input=2.50 output=10 cached=1.25;
    llm_price ~^gpt-4o- input=1 output=2;
    llm_price smart input=100 output=100;
    llm_price text-embedding-3-small input=0.02;

    llm_key key=$Key name=costly tpm=1000000;
_EOC_

our $Config = <<'_EOC_';
    location /v1/ {
        llm_pass;
        access_log $TEST_NGINX_SERVER_ROOT/logs/cost.log cost;
    }

    location = /log {
        access_log off;
        alias $TEST_NGINX_SERVER_ROOT/logs/cost.log;
    }

    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":3}}}';
    }

    location = /mock/embeddings {
        default_type application/json;
        return 200 '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}';
    }
_EOC_

# the reservation of a body with a completion part: tpm - it
sub remaining {
    my ($body, $completion) = @_;
    return 1000000 - int((length($body) + 3) / 4) - $completion;
}

our $Chat = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}';

repeat_each(1);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', $::HttpConfig);
    }

    if (!defined $block->config) {
        $block->set_value('config', $::Config);
    }

    if (!defined $block->more_headers) {
        $block->set_value('more_headers', "Authorization: Bearer $::Key");
    }
});

run_tests();

__DATA__

=== TEST 1: $llm_cost: 8 prompt tokens at $2.50, 3 cached at $1.25, 7
completion at $10 a million
--- request eval
["POST /v1/chat/completions\n$::Chat", "GET /log"]
--- error_code eval
[200, 200]
--- response_body_like eval
['"usage"', '\Acostly gpt-4o 0.00009375\n\z']
--- no_error_log
[error]



=== TEST 2: the model sent to the provider is priced first (a regex),
not the alias asked for
--- request eval
['POST /v1/chat/completions
{"model":"smart","messages":[{"role":"user","content":"hi"}]}', "GET /log"]
--- error_code eval
[200, 200]
--- response_body_like eval
['"usage"', '\Acostly gpt-4o-2024-08-06 0.000025\n\z']
--- no_error_log
[error]



=== TEST 3: no price: $llm_cost is empty
--- request eval
['POST /v1/chat/completions
{"model":"free","messages":[{"role":"user","content":"hi"}]}', "GET /log"]
--- error_code eval
[200, 200]
--- response_body_like eval
['"usage"', '\Acostly free-model -\n\z']
--- no_error_log
[error]



=== TEST 4: no usage: $llm_cost is empty
--- config
    location /v1/ {
        llm_pass;
        access_log $TEST_NGINX_SERVER_ROOT/logs/cost.log cost;
    }

    location = /log {
        access_log off;
        alias $TEST_NGINX_SERVER_ROOT/logs/cost.log;
    }

    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]}';
    }
--- request eval
["POST /v1/chat/completions\n$::Chat", "GET /log"]
--- error_code eval
[200, 200]
--- response_body_like eval
['"choices"', '\Acostly gpt-4o -\n\z']
--- no_error_log
[error]



=== TEST 5: embeddings: input price only
--- request eval
['POST /v1/embeddings
{"model":"text-embedding-3-small","input":"hello"}', "GET /log"]
--- error_code eval
[200, 200]
--- response_body_like eval
['"usage"', '\Acostly text-embedding-3-small 0.00000016\n\z']
--- no_error_log
[error]



=== TEST 6: a reservation: the prompt and max_tokens
--- request eval
my $b = '{"model":"gpt-4o","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}';
"POST /v1/chat/completions\n$b"
--- response_headers eval
"x-ratelimit-limit-tokens: 1000000
x-ratelimit-remaining-tokens: " . ::remaining('{"model":"gpt-4o","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}', 100)
--- no_error_log
[error]



=== TEST 7: the larger of max_tokens and max_completion_tokens
--- request eval
my $b = '{"model":"gpt-4o","max_tokens":100,"max_completion_tokens":300,"messages":[{"role":"user","content":"hi"}]}';
"POST /v1/chat/completions\n$b"
--- response_headers eval
"x-ratelimit-remaining-tokens: " . ::remaining('{"model":"gpt-4o","max_tokens":100,"max_completion_tokens":300,"messages":[{"role":"user","content":"hi"}]}', 300)
--- no_error_log
[error]



=== TEST 8: a key written with escapes is read as the provider reads it,
the last of two, times n
--- request eval
my $b = '{"model":"gpt-4o","max_tokens":1,"max\u005ftokens":200,"n":3,"messages":[{"role":"user","content":"hi"}]}';
"POST /v1/chat/completions\n$b"
--- response_headers eval
"x-ratelimit-remaining-tokens: " . ::remaining('{"model":"gpt-4o","max_tokens":1,"max\u005ftokens":200,"n":3,"messages":[{"role":"user","content":"hi"}]}', 600)
--- no_error_log
[error]



=== TEST 9: no max_tokens: llm_reserve_tokens
--- config
    location /v1/ {
        llm_pass;
        llm_reserve_tokens 1000;
    }

    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"choices":[]}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_headers eval
"x-ratelimit-remaining-tokens: " . ::remaining($::Chat, 1000)
--- no_error_log
[error]



=== TEST 10: the default reservation is 4096; "max_tokens": null is none
--- request eval
my $b = '{"model":"gpt-4o","max_tokens":null,"messages":[{"role":"user","content":"hi"}]}';
"POST /v1/chat/completions\n$b"
--- response_headers eval
"x-ratelimit-remaining-tokens: " . ::remaining('{"model":"gpt-4o","max_tokens":null,"messages":[{"role":"user","content":"hi"}]}', 4096)
--- no_error_log
[error]



=== TEST 11: embeddings reserve their input only
--- request eval
"POST /v1/embeddings\n" . '{"model":"text-embedding-3-small","input":"hello"}'
--- response_headers eval
"x-ratelimit-remaining-tokens: " . ::remaining('{"model":"text-embedding-3-small","input":"hello"}', 0)
--- no_error_log
[error]



=== TEST 12: settled with the usage: an answer of 18 tokens, then a
stream of 7; the next request sees what they used, not what they
reserved (a window of 6000 a minute gives back 0.1 token a millisecond)
--- http_config eval
my $c = $::HttpConfig;
$c =~ s/tpm=1000000/tpm=6000/;
$c . "    llm_provider streamer type=openai upstream=127.0.0.1:\$TEST_NGINX_SERVER_PORT
                 base=/stream key=none;
    llm_route streamed streamer;\n"
--- config
    location /v1/ {
        llm_pass;
    }

    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}';
    }

    location = /stream/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}';
        echo;
        echo 'data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}';
        echo;
        echo 'data: [DONE]';
        echo;
    }
--- request eval
["POST /v1/chat/completions\n" . '{"model":"gpt-4o","max_tokens":1000,"messages":[{"role":"user","content":"hi"}]}',
 "POST /v1/chat/completions\n" . '{"model":"streamed","stream":true,"max_tokens":1000,"messages":[{"role":"user","content":"hi"}]}',
 "POST /v1/chat/completions\n" . '{"model":"gpt-4o","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}']
--- error_code eval
[200, 200, 200]
--- raw_response_headers_like eval
[qr/x-ratelimit-remaining-tokens: 49\d\d\r\n/,
 qr/x-ratelimit-remaining-tokens: 49\d\d\r\n/,
 qr/x-ratelimit-remaining-tokens: 58(?:5[5-9]|[6-9]\d)\r\n/]
--- no_error_log
[error]



=== TEST 13: llm_price: a bad value
--- http_config
    llm_price gpt-4o input=2.5.0;
--- config
--- must_die
--- error_log
invalid value "input=2.5.0"



=== TEST 14: llm_price: more than 6 decimals
--- http_config
    llm_price gpt-4o input=0.0000001;
--- config
--- must_die
--- error_log
invalid value "input=0.0000001"



=== TEST 15: llm_price: an unknown parameter
--- http_config
    llm_price gpt-4o input=1 price=2;
--- config
--- must_die
--- error_log
invalid parameter "price=2"



=== TEST 16: llm_price: twice for a model
--- http_config
    llm_price gpt-4o input=1;
    llm_price gpt-4o input=2;
--- config
--- must_die
--- error_log
duplicate price of "gpt-4o"



=== TEST 17: llm_price: a bad regex
--- http_config
    llm_price ~^gpt-(4 input=1;
--- config
--- must_die
--- error_log
invalid regex "~^gpt-(4"



=== TEST 18: llm_zone: too small
--- http_config
    llm_zone llm:16k;
--- config
--- must_die
--- error_log
zone "llm:16k" is too small



=== TEST 19: llm_zone: no size
--- http_config
    llm_zone llm;
--- config
--- must_die
--- error_log
invalid zone size "llm"



=== TEST 20: llm_zone: twice
--- http_config
    llm_zone llm:64k;
    llm_zone other:64k;
--- config
--- must_die
--- error_log
"llm_zone" directive is duplicate
