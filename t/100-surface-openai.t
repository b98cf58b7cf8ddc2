# The OpenAI chat surface when the provider is not OpenAI-format, and the
# OpenAI adapter when the client is not an OpenAI client.
#
# Part 1: OpenAI clients of an Anthropic provider: requests the surface
# refuses (400 naming the field, nothing sent upstream), the answer and
# the chunks as an OpenAI client gets them (the model it asked for, one
# id, role first, usage only when asked for, the error event last), the
# usage in the $llm_* variables.  The mock provider is a location of the
# same server (base=/mock) returning Anthropic JSON or events.
#
# Part 2: Anthropic clients of OpenAI-format providers: the chat request
# the provider receives, byte for byte (tcp_listen/tcp_query), in each
# vendor's dialect, and recorded OpenAI-format answers and streams (Mistral
# tool calls without an index, DeepSeek reasoning) coming back.

use Test::Nginx::Socket 'no_plan';
use JSON::PP;

our $J = JSON::PP->new->canonical(1)->allow_nonref(1);

sub fixture {
    my $f = shift;

    open my $fh, '<', "t/fixtures/$f" or die "t/fixtures/$f: $!";
    local $/;
    my $s = <$fh>;
    close $fh;

    return $s;
}

# a location of the mock provider answering with a fixed body
sub mock {
    my ($path, $type, $body) = @_;

    $body =~ s/\\/\\\\/g;
    $body =~ s/'/\\'/g;
    $body =~ s/\n/\\n/g;

    return "    location = $path {\n"
           . "        default_type $type;\n"
           . "        return 200 '$body';\n"
           . "    }\n";
}

# Anthropic events from payloads: "event: <type>" then "data: <json>"
sub events {
    return join '', map {
        my $t = $J->decode($_)->{type};
        "event: $t\ndata: $_\n\n"
    } @_;
}

# OpenAI events from payloads, then [DONE]
sub chunks {
    return join('', map { "data: $_\n\n" } @_) . "data: [DONE]\n\n";
}

# JSON with "created" zeroed and keys sorted; anything else as it is
sub norm_json {
    my $s = shift;
    my $o = eval { $J->decode($s) };

    return $s if $@ || ref $o ne 'HASH';

    $o->{created} = 0 if exists $o->{created};

    return $J->encode($o);
}

sub norm_body {
    my $s = shift;

    if ($s =~ /^(data|event): /) {
        return join '', map {
            /^(.*?)data: (.*)$/s ? "$1data: " . norm_json($2) . "\n\n"
                                 : "$_\n\n"
        } split /\n\n/, $s;
    }

    return norm_json($s) . "\n";
}

# the chat request an OpenAI-format provider gets
sub upreq {
    my ($body, %o) = @_;

    return "POST " . ($o{path} // '/v1/chat/completions') . " HTTP/1.1\r\n"
           . 'Host: ' . ($o{host} // '127.0.0.1') . "\r\n"
           . "Content-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . 'Accept: ' . ($o{stream} ? 'text/event-stream'
                                      : 'application/json') . "\r\n"
           . "Accept-Encoding: identity\r\n"
           . ($o{key} ? "Authorization: Bearer $o{key}\r\n" : '')
           . "\r\n$body";
}

sub reply {
    my ($body) = @_;

    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . "Connection: close\r\n\r\n$body";
}

sub sse_reply {
    my $body = join '', @_;

    return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
           . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           . sprintf("%x\r\n%s\r\n", length $body, $body) . "0\r\n\r\n";
}

# a vercel *.chunks.txt recording as an OpenAI-format event stream
sub chunks_fixture {
    return chunks(grep { length } split /\n/, fixture(shift));
}

sub messages {
    my ($req) = @_;
    return "POST /v1/messages\n" . $J->encode($req);
}

sub chat {
    my ($req) = @_;
    return "POST /v1/chat/completions\n" . $J->encode($req);
}

# an OpenAI chunk as the client gets it (created zeroed)
sub chunk {
    my ($id, $model, $delta, $finish) = @_;

    return 'data: ' . $J->encode({ id => $id, object => 'chat.completion.chunk',
        created => 0, model => $model,
        choices => [ { index => 0, delta => $delta,
                       finish_reason => $finish } ] }) . "\n\n";
}

our $Message = $J->encode({ id => 'msg_01', type => 'message',
    role => 'assistant', model => 'claude-sonnet-4-5-20250929',
    content => [ { type => 'text', text => 'Hello' } ],
    stop_reason => 'end_turn', stop_sequence => undef,
    usage => { input_tokens => 12, cache_read_input_tokens => 3,
               cache_creation_input_tokens => 0, output_tokens => 5 } });

our $ToolMessage = $J->encode({ id => 'msg_02', type => 'message',
    role => 'assistant', model => 'claude-sonnet-4-5-20250929',
    content => [ { type => 'tool_use', id => 'toolu_01', name => 'weather',
                   input => { city => 'Paris' } } ],
    stop_reason => 'tool_use', stop_sequence => undef,
    usage => { input_tokens => 20, output_tokens => 9 } });

our @StreamEvents = (
    '{"type":"message_start","message":{"id":"msg_03","type":"message",'
    . '"role":"assistant","model":"claude-sonnet-4-5-20250929",'
    . '"content":[],"stop_reason":null,"stop_sequence":null,'
    . '"usage":{"input_tokens":10,"output_tokens":1}}}',
    '{"type":"ping"}',
    '{"type":"content_block_start","index":0,'
    . '"content_block":{"type":"text","text":""}}',
    '{"type":"content_block_delta","index":0,'
    . '"delta":{"type":"text_delta","text":"Hi"}}',
    '{"type":"content_block_delta","index":0,'
    . '"delta":{"type":"text_delta","text":" \"there\""}}',
    '{"type":"content_block_stop","index":0}',
    '{"type":"content_block_start","index":1,"content_block":'
    . '{"type":"tool_use","id":"toolu_02","name":"f","input":{}}}',
    '{"type":"content_block_delta","index":1,'
    . '"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}',
    '{"type":"content_block_delta","index":1,'
    . '"delta":{"type":"input_json_delta","partial_json":"1}"}}',
    '{"type":"content_block_stop","index":1}',
    '{"type":"message_delta","delta":{"stop_reason":"tool_use",'
    . '"stop_sequence":null},"usage":{"output_tokens":7}}',
    '{"type":"message_stop"}');

our $Stream = events(@StreamEvents);

our $StreamAnswer = join '',
    chunk('msg_03', 'smart', { role => 'assistant', content => '' }, undef),
    chunk('msg_03', 'smart', { content => 'Hi' }, undef),
    chunk('msg_03', 'smart', { content => ' "there"' }, undef),
    chunk('msg_03', 'smart', { tool_calls => [ { index => 0,
        id => 'toolu_02', type => 'function',
        function => { name => 'f', arguments => '' } } ] }, undef),
    chunk('msg_03', 'smart', { tool_calls => [ { index => 0,
        function => { arguments => '{"a":' } } ] }, undef),
    chunk('msg_03', 'smart', { tool_calls => [ { index => 0,
        function => { arguments => '1}' } } ] }, undef),
    chunk('msg_03', 'smart', {}, 'tool_calls');

our $UsageChunk = 'data: ' . $J->encode({ id => 'msg_03',
    object => 'chat.completion.chunk', created => 0, model => 'smart',
    choices => [], usage => { prompt_tokens => 10, completion_tokens => 7,
    total_tokens => 17, prompt_tokens_details => { cached_tokens => 0 } } })
    . "\n\n";

our $LogFormat = <<'_EOC_';
    log_format llm 'prompt=$llm_prompt_tokens '
                   'completion=$llm_completion_tokens '
                   'total=$llm_total_tokens cached=$llm_cached_tokens';
_EOC_

our $HttpConfig = <<'_EOC_';
    llm_provider claude type=anthropic
                 upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route smart claude:claude-sonnet-4-5;
    llm_route default claude;

    llm_provider oai type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route claude-oai oai:gpt-4o-mini;
_EOC_

repeat_each(2);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config',
                      $::LogFormat . ($block->http_config // $::HttpConfig));

    if (!defined $block->config || $block->config !~ /\bllm_pass\b/) {
        $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    location /v1/ {
        llm_pass;
        llm_read_timeout 5s;
        access_log $TEST_NGINX_SERVER_ROOT/logs/llm.log llm;
    }

    location = /log {
        access_log off;
        alias $TEST_NGINX_SERVER_ROOT/logs/llm.log;
    }
_EOC_
    }

    if (defined $block->tcp_listen && !defined $block->tcp_query
        && !defined $block->tcp_query_len)
    {
        $block->set_value('tcp_query_auto_timeout', '0.05');
    }

    if (!defined $block->response_body_filters
        && (defined $block->response_body
            || defined $block->response_body_eval))
    {
        $block->set_value('response_body_filters', \&::norm_body);
    }
});

run_tests();

__DATA__

=== TEST 1: tool call arguments that are not JSON: 400 naming them
--- request
POST /v1/chat/completions
{"model":"smart","messages":[{"role":"user","content":"q"},
{"role":"assistant","tool_calls":[{"id":"c1","type":"function",
"function":{"name":"weather","arguments":"{\"city\":"}}]}]}
--- error_code: 400
--- response_body
{"error":{"code":"invalid_request","message":"Invalid 'messages[1].tool_calls[].function.arguments': the arguments of \"weather\" are not a JSON object.","param":null,"type":"invalid_request_error"}}
--- error_log
llm: client sent an invalid request: Invalid 'messages[1].tool_calls[].function.arguments'
--- no_error_log
[error]



=== TEST 2: an unknown role
--- request
POST /v1/chat/completions
{"model":"smart","messages":[{"role":"robot","content":"q"}]}
--- error_code: 400
--- response_body
{"error":{"code":"invalid_request","message":"Invalid value for 'messages[0].role': \"robot\" is not one of system, developer, user, assistant, tool.","param":null,"type":"invalid_request_error"}}
--- no_error_log
[error]



=== TEST 3: a content part of an unknown type; an image in a system
message
--- request eval
[ ::chat({ model => 'smart', messages => [ { role => 'user',
    content => [ { type => 'video_url', video_url => { url => 'x' } } ] } ] }),
  ::chat({ model => 'smart', messages => [ { role => 'system',
    content => [ { type => 'image_url',
                   image_url => { url => 'https://x/a.png' } } ] } ] }) ]
--- error_code eval
[400, 400]
--- response_body eval
[ qq!{"error":{"code":"invalid_request","message":"Invalid 'messages[0].content[0].type': \\"video_url\\" is not supported in this message.","param":null,"type":"invalid_request_error"}}\n!,
  qq!{"error":{"code":"invalid_request","message":"Invalid 'messages[0].content[0].type': \\"image_url\\" is not supported in this message.","param":null,"type":"invalid_request_error"}}\n! ]
--- no_error_log
[error]



=== TEST 4: an uploaded file (file_id) and a data URL that is not base64
--- request eval
[ ::chat({ model => 'smart', messages => [ { role => 'user',
    content => [ { type => 'file', file => { file_id => 'file-1' } } ] } ] }),
  ::chat({ model => 'smart', messages => [ { role => 'user',
    content => [ { type => 'image_url',
                   image_url => { url => 'data:image/svg+xml,<svg/>' } } ]
  } ] }) ]
--- error_code eval
[400, 400]
--- response_body eval
[ qq!{"error":{"code":"invalid_request","message":"Invalid 'messages[0].content[0].file': only \\"file_data\\" can be sent to this model; uploaded files (\\"file_id\\") belong to OpenAI.","param":null,"type":"invalid_request_error"}}\n!,
  qq!{"error":{"code":"invalid_request","message":"Invalid 'messages[0].content[0].image_url.url': a data URL must be base64 (data:<type>;base64,...).","param":null,"type":"invalid_request_error"}}\n! ]
--- no_error_log
[error]



=== TEST 5: parameters of the wrong type
--- request eval
[ ::chat({ model => 'smart', temperature => 'hot',
           messages => [ { role => 'user', content => 'q' } ] }),
  ::chat({ model => 'smart', max_tokens => -1,
           messages => [ { role => 'user', content => 'q' } ] }),
  ::chat({ model => 'smart', max_completion_tokens => 'many',
           messages => [ { role => 'user', content => 'q' } ] }),
  ::chat({ model => 'smart', stop => 5,
           messages => [ { role => 'user', content => 'q' } ] }),
  ::chat({ model => 'smart', stream => JSON::PP::true,
           stream_options => { include_usage => 'yes' },
           messages => [ { role => 'user', content => 'q' } ] }) ]
--- error_code eval
[400, 400, 400, 400, 400]
--- response_body eval
[ qq!{"error":{"code":"invalid_request","message":"Invalid type for 'temperature': expected a number.","param":null,"type":"invalid_request_error"}}\n!,
  qq!{"error":{"code":"invalid_request","message":"Invalid type for 'max_tokens': expected a non-negative integer.","param":null,"type":"invalid_request_error"}}\n!,
  qq!{"error":{"code":"invalid_request","message":"Invalid type for 'max_completion_tokens': expected a non-negative integer.","param":null,"type":"invalid_request_error"}}\n!,
  qq!{"error":{"code":"invalid_request","message":"Invalid type for 'stop': expected a string or an array of strings.","param":null,"type":"invalid_request_error"}}\n!,
  qq!{"error":{"code":"invalid_request","message":"Invalid type for 'stream_options.include_usage': expected a boolean.","param":null,"type":"invalid_request_error"}}\n! ]
--- no_error_log
[error]



=== TEST 6: tools: a custom tool, a bad tool_choice, a response_format of
an unknown type, a tool result without its call id
--- request eval
[ ::chat({ model => 'smart', messages => [ { role => 'user', content => 'q' } ],
           tools => [ { type => 'custom', custom => { name => 'x' } } ] }),
  ::chat({ model => 'smart', messages => [ { role => 'user', content => 'q' } ],
           tool_choice => 'sometimes' }),
  ::chat({ model => 'smart', messages => [ { role => 'user', content => 'q' } ],
           response_format => { type => 'yaml' } }),
  ::chat({ model => 'smart', messages => [ { role => 'user', content => 'q' },
           { role => 'tool', content => 'r' } ] }) ]
--- error_code eval
[400, 400, 400, 400]
--- response_body eval
[ qq!{"error":{"code":"invalid_request","message":"Invalid 'tools[0].type': only \\"function\\" tools can be sent to this model.","param":null,"type":"invalid_request_error"}}\n!,
  qq!{"error":{"code":"invalid_request","message":"Invalid value for 'tool_choice': expected \\"none\\", \\"auto\\", \\"required\\" or an object.","param":null,"type":"invalid_request_error"}}\n!,
  qq!{"error":{"code":"invalid_request","message":"Invalid value for 'response_format.type': expected \\"text\\", \\"json_object\\" or \\"json_schema\\".","param":null,"type":"invalid_request_error"}}\n!,
  qq!{"error":{"code":"invalid_request","message":"Missing required parameter: 'messages[1].tool_call_id'.","param":null,"type":"invalid_request_error"}}\n! ]
--- no_error_log
[error]



=== TEST 7: an answer: the provider's id, the model the client asked for,
usage with cache reads, and in the $llm_* variables
--- config eval: ::mock('/mock/messages', 'application/json', $::Message)
--- request eval
[ ::chat({ model => 'smart', messages => [ { role => 'user', content => 'q' } ] }),
  "GET /log" ]
--- response_body eval
[ $::J->encode({ id => 'msg_01', object => 'chat.completion', created => 0,
    model => 'smart', choices => [ { index => 0, logprobs => undef,
      finish_reason => 'stop', message => { role => 'assistant',
      content => 'Hello', refusal => undef } } ],
    usage => { prompt_tokens => 15, completion_tokens => 5,
               total_tokens => 20,
               prompt_tokens_details => { cached_tokens => 3 } } }) . "\n",
  "prompt=15 completion=5 total=20 cached=3\n" ]
--- response_body_filters eval
sub { my $s = shift; $s =~ /^prompt=/ ? ((split /\n/, $s)[-1] . "\n")
                                      : ::norm_body($s) }
--- no_error_log
[error]



=== TEST 8: a tool call: content null, the arguments as a JSON string
--- config eval: ::mock('/mock/messages', 'application/json', $::ToolMessage)
--- request eval
::chat({ model => 'claude-x', messages => [ { role => 'user', content => 'q' } ],
         tools => [ { type => 'function', function => { name => 'weather',
           parameters => { type => 'object' } } } ] })
--- response_body eval
$::J->encode({ id => 'msg_02', object => 'chat.completion', created => 0,
    model => 'claude-x', choices => [ { index => 0, logprobs => undef,
      finish_reason => 'tool_calls', message => { role => 'assistant',
      content => undef, refusal => undef, tool_calls => [ { id => 'toolu_01',
        type => 'function', function => { name => 'weather',
        arguments => '{"city":"Paris"}' } } ] } } ],
    usage => { prompt_tokens => 20, completion_tokens => 9,
               total_tokens => 29,
               prompt_tokens_details => { cached_tokens => 0 } } }) . "\n"
--- no_error_log
[error]



=== TEST 9: a stream without include_usage: role first, text, a tool call,
one finish, no usage chunk, [DONE]; usage still logged
--- config eval: ::mock('/mock/messages', 'text/event-stream', $::Stream)
--- request eval
[ ::chat({ model => 'smart', stream => JSON::PP::true,
           messages => [ { role => 'user', content => 'q' } ] }),
  "GET /log" ]
--- response_body eval
[ $::StreamAnswer . "data: [DONE]\n\n",
  "prompt=10 completion=7 total=17 cached=0\n" ]
--- response_body_filters eval
sub { my $s = shift; $s =~ /^prompt=/ ? ((split /\n/, $s)[-1] . "\n")
                                      : ::norm_body($s) }
--- no_error_log
[error]



=== TEST 10: a stream with include_usage: the usage chunk after the
finish, choices empty
--- config eval: ::mock('/mock/messages', 'text/event-stream', $::Stream)
--- request eval
::chat({ model => 'smart', stream => JSON::PP::true,
         stream_options => { include_usage => JSON::PP::true },
         messages => [ { role => 'user', content => 'q' } ] })
--- response_body eval
$::StreamAnswer . $::UsageChunk . "data: [DONE]\n\n"
--- response_headers
Content-Type: text/event-stream
--- no_error_log
[error]



=== TEST 11: an error event in the stream: the OpenAI error chunk, then
nothing (no [DONE])
--- config eval
::mock('/mock/messages', 'text/event-stream', ::events($::StreamEvents[0],
    $::StreamEvents[2], $::StreamEvents[3],
    '{"type":"error","error":{"type":"overloaded_error",'
    . '"message":"Overloaded"}}'))
--- request eval
::chat({ model => 'smart', stream => JSON::PP::true,
         messages => [ { role => 'user', content => 'q' } ] })
--- response_body_like chomp
\A(data: \{"id":"msg_03",[^\n]+\n\n){2}data: \{"error":\{"message":"Overloaded","type":"overloaded_error","param":null,"code":null\}\}\n\n\z
--- response_body_filters



=== TEST 12: Anthropic client, OpenAI provider: system, text, sampling
and stop sequences as an OpenAI chat request; the answer as a Message
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"gpt-4o-mini","messages":[{"role":"system",'
. '"content":"Be brief."},{"role":"user","content":"hi"}],'
. '"max_tokens":100,"temperature":0.5,"top_p":0.9,"stop":["END"]}')
--- tcp_reply eval
::reply(::fixture('derived/envoyproxy-ai-gateway/chat-basic/0.response.json'))
--- request eval
::messages({ model => 'claude-oai', max_tokens => 100,
             system => 'Be brief.', temperature => 0.5, top_p => 0.9,
             stop_sequences => ['END'], top_k => 5,
             messages => [ { role => 'user', content => 'hi' } ] })
--- response_body_like chomp
^\{"id":"chatcmpl-[^"]+","type":"message","role":"assistant","model":"claude-oai","content":\[\{"type":"text","text":"[^"]+"\}\],"stop_reason":"end_turn"
--- response_body_filters
--- no_error_log
[error]



=== TEST 13: Anthropic client, OpenAI provider: tools, a tool_use turn
and its tool_result as tool_calls and a tool message, tool_choice any
without parallel calls
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"gpt-4o-mini","messages":[{"role":"user","content":'
. '"weather?"},{"role":"assistant","content":"Let me check.","tool_calls":'
. '[{"id":"toolu_1","type":"function","function":{"name":"weather",'
. '"arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":'
. '"toolu_1","content":"18C"},{"role":"user","content":"thanks"}],'
. '"tools":[{"type":"function","function":{"name":"weather","description":'
. '"Weather","parameters":{"type":"object","properties":{"city":'
. '{"type":"string"}}}}}],"tool_choice":"required",'
. '"parallel_tool_calls":false,"max_tokens":50}')
--- tcp_reply eval
::reply(::fixture('derived/envoyproxy-ai-gateway/chat-tools/0.response.json'))
--- request eval
"POST /v1/messages\n"
. '{"model":"claude-oai","max_tokens":50,"messages":[{"role":"user",'
. '"content":"weather?"},{"role":"assistant","content":[{"type":"text",'
. '"text":"Let me check."},{"type":"tool_use","id":"toolu_1","name":'
. '"weather","input":{"city":"Paris"}}]},{"role":"user","content":'
. '[{"type":"tool_result","tool_use_id":"toolu_1","content":"18C"},'
. '{"type":"text","text":"thanks"}]}],"tools":[{"name":"weather",'
. '"description":"Weather","input_schema":{"type":"object","properties":'
. '{"city":{"type":"string"}}}}],"tool_choice":{"type":"any",'
. '"disable_parallel_tool_use":true}}'
--- response_body_like chomp
"content":\[\{"type":"tool_use","id":"call_8fxy20OEu9ulvvaa5b5CzVA4","name":"get_current_weather","input":\{"location":"Boston, MA","unit":"fahrenheit"\}\}\],"stop_reason":"tool_use"
--- response_body_filters
--- no_error_log
[error]



=== TEST 14: Anthropic client, OpenAI provider, stream: usage asked for,
a recorded stream as Anthropic events
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],'
. '"max_tokens":20,"stream":true,"stream_options":{"include_usage":true}}',
stream => 1)
--- tcp_reply eval
::sse_reply(::fixture('derived/envoyproxy-ai-gateway/'
                      . 'chat-streaming-detailed-usage/0.response.sse'))
--- request eval
::messages({ model => 'claude-oai', max_tokens => 20,
             stream => JSON::PP::true,
             messages => [ { role => 'user', content => 'hi' } ] })
--- response_headers
Content-Type: text/event-stream
--- response_body_like chomp
\Aevent: message_start\n.*"stop_reason":"max_tokens".*"output_tokens":100\}\}\n\nevent: message_stop\ndata: \{"type":"message_stop"\}\n\n\z
--- response_body_filters
--- no_error_log
[error]



=== TEST 15: OpenAI itself: max_completion_tokens (reasoning models reject
max_tokens), no reasoning_content sent back
--- http_config
    llm_provider openai type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 host=api.openai.com key=none;
    llm_route claude-oai openai:o3-mini;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"o3-mini","messages":[{"role":"user","content":"q"},'
. '{"role":"assistant","content":"a"},{"role":"user","content":"q2"}],'
. '"max_completion_tokens":64}', host => 'api.openai.com')
--- tcp_reply eval
::reply(::fixture('derived/envoyproxy-ai-gateway/chat-basic/0.response.json'))
--- request eval
"POST /v1/messages\n"
. '{"model":"claude-oai","max_tokens":64,"messages":[{"role":"user",'
. '"content":"q"},{"role":"assistant","content":[{"type":"thinking",'
. '"thinking":"hmm","signature":"sig"},{"type":"text","text":"a"}]},'
. '{"role":"user","content":"q2"}]}'
--- response_body_like chomp
"stop_reason":"end_turn"
--- response_body_filters
--- no_error_log
[error]



=== TEST 16: DeepSeek: the thinking of a tool-calling turn goes back as
reasoning_content; a recorded reasoning stream as a thinking block
--- http_config
    llm_provider ds type=deepseek upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route claude-oai ds:deepseek-reasoner;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"deepseek-reasoner","messages":[{"role":"user","content":'
. '"q"},{"role":"assistant","content":null,"reasoning_content":"hmm",'
. '"tool_calls":[{"id":"call_00_x","type":"function","function":{"name":'
. '"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_00_x",'
. '"content":"r"}],"tools":[{"type":"function","function":{"name":"f",'
. '"parameters":{"type":"object"}}}],"max_tokens":64,"stream":true,'
. '"stream_options":{"include_usage":true}}', path => '/chat/completions',
stream => 1)
--- tcp_reply eval
::sse_reply(::chunks_fixture('vercel-ai/packages/deepseek/src/chat/'
                             . '__fixtures__/deepseek-reasoning.chunks.txt'))
--- request eval
"POST /v1/messages\n"
. '{"model":"claude-oai","max_tokens":64,"stream":true,"messages":['
. '{"role":"user","content":"q"},{"role":"assistant","content":['
. '{"type":"thinking","thinking":"hmm","signature":""},{"type":"tool_use",'
. '"id":"call_00_x","name":"f","input":{}}]},{"role":"user","content":'
. '[{"type":"tool_result","tool_use_id":"call_00_x","content":"r"}]}],'
. '"tools":[{"name":"f","input_schema":{"type":"object"}}]}'
--- response_body_like chomp
\Aevent: message_start\n.*"content_block":\{"type":"thinking".*"type":"thinking_delta".*"content_block":\{"type":"text".*"type":"text_delta".*event: message_stop\n
--- response_body_filters
--- no_error_log
[error]



=== TEST 17: Mistral: no stream_options, tool call ids of 9 letters and
digits; a tool call without "index" in the stream as a tool_use block
--- http_config
    llm_provider mis type=mistral upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route claude-oai mis:mistral-small-latest;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"mistral-small-latest","messages":[{"role":"user",'
. '"content":"q"},{"role":"assistant","content":null,"tool_calls":[{"id":'
. '"fRtHDMIxi","type":"function","function":{"name":"f","arguments":'
. '"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"fRtHDMIxi","content":'
. '"r"},{"role":"assistant","content":null,"tool_calls":[{"id":'
. '"gSIMJiOkT","type":"function","function":{"name":"f","arguments":'
. '"{}"}}]},{"role":"tool","tool_call_id":"gSIMJiOkT","content":"r2"}],'
. '"max_tokens":64,"stream":true}', stream => 1)
--- tcp_reply eval
::sse_reply(::chunks_fixture('vercel-ai/packages/mistral/src/__fixtures__/'
                             . 'mistral-tool-call.chunks.txt'))
--- request eval
"POST /v1/messages\n"
. '{"model":"claude-oai","max_tokens":64,"stream":true,"messages":['
. '{"role":"user","content":"q"},{"role":"assistant","content":[{"type":'
. '"tool_use","id":"toolu_01A","name":"f","input":{"a":1}}]},{"role":"user",'
. '"content":[{"type":"tool_result","tool_use_id":"toolu_01A","content":'
. '"r"}]},{"role":"assistant","content":[{"type":"tool_use","id":'
. '"gSIMJiOkT","name":"f","input":{}}]},{"role":"user","content":[{"type":'
. '"tool_result","tool_use_id":"gSIMJiOkT","content":"r2"}]}]}'
--- response_body_like chomp
"content_block":\{"type":"tool_use","id":"gSIMJiOkT","name":"weather","input":\{\}\}.*"partial_json":"\{\\"location\\": \\"San Francisco\\"\}".*"stop_reason":"tool_use"
--- response_body_filters
--- no_error_log
[error]



=== TEST 18: images: base64 as a data URL, a URL as it is
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"gpt-4o-mini","messages":[{"role":"user","content":['
. '{"type":"text","text":"what?"},{"type":"image_url","image_url":{"url":'
. '"data:image/png;base64,iVBORw0KGgo="}},{"type":"image_url","image_url":'
. '{"url":"https://example.com/a.jpg"}}]}],"max_tokens":10}')
--- tcp_reply eval
::reply(::fixture('derived/envoyproxy-ai-gateway/chat-basic/0.response.json'))
--- request eval
"POST /v1/messages\n"
. '{"model":"claude-oai","max_tokens":10,"messages":[{"role":"user",'
. '"content":[{"type":"text","text":"what?"},{"type":"image","source":'
. '{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},'
. '{"type":"image","source":{"type":"url","url":"https://example.com/a.jpg"}}'
. ']}]}'
--- response_body_like chomp
"stop_reason":"end_turn"
--- response_body_filters
--- no_error_log
[error]



=== TEST 19: an error in the provider's stream: an Anthropic error event
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::sse_reply('data: {"id":"c1","object":"chat.completion.chunk","created":1,'
. '"model":"m","choices":[{"index":0,"delta":{"role":"assistant",'
. '"content":"Hel"},"finish_reason":null}]}' . "\n\n"
. 'data: {"error":{"message":"The server had an error","type":'
. '"server_error","param":null,"code":null}}' . "\n\n")
--- request eval
::messages({ model => 'claude-oai', max_tokens => 20,
             stream => JSON::PP::true,
             messages => [ { role => 'user', content => 'hi' } ] })
--- response_body_like chomp
"text":"Hel".*event: error\ndata: \{"type":"error","error":\{"type":"[a-z_]+","message":"The server had an error"\}\}\n\n\z
--- response_body_filters
--- error_log
llm provider "oai" sent an error in the stream: "The server had an error"
