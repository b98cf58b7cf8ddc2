# OpenAI clients of an Anthropic provider (type=anthropic): the Messages
# request the provider receives, byte for byte (tcp_listen/tcp_query), and
# recorded Anthropic answers, streams and errors (t/fixtures) translated
# back to OpenAI chat completions, chunks and errors.  Answers are compared
# as JSON with "created" zeroed.

use Test::Nginx::Socket 'no_plan';
use t::LLMCanary;       # the canary under the real Test::Nginx too
use JSON::PP;

$ENV{LLM_TEST_KEY} = 'sk-ant-CANARY-test-7d1e';

our $J = JSON::PP->new->canonical(1)->allow_nonref(1);

sub fixture {
    my $f = shift;

    open my $fh, '<', "t/fixtures/$f" or die "t/fixtures/$f: $!";
    local $/;
    my $s = <$fh>;
    close $fh;

    return $s;
}

# JSON with "created" zeroed, keys sorted, the arguments of whole tool
# calls too; anything else as it is
sub norm_json {
    my $s = shift;
    my $o = eval { $J->decode($s) };

    return $s if $@ || ref $o ne 'HASH';

    $o->{created} = 0 if exists $o->{created};

    for my $c (@{ $o->{choices} // [] }) {
        for my $tc (@{ ($c->{message} // {})->{tool_calls} // [] }) {
            my $a = eval { $J->decode($tc->{function}{arguments}) };
            $tc->{function}{arguments} = $J->encode($a) unless $@;
        }
    }

    return $J->encode($o);
}

# an event stream, each data payload normalized
sub norm_sse {
    my $s = shift;
    my $out = '';

    for my $ev (split /\n\n/, $s) {
        if ($ev =~ /^data: (.*)$/s) {
            $out .= 'data: ' . norm_json($1) . "\n\n";

        } else {
            $out .= "$ev\n\n";
        }
    }

    return $out;
}

sub norm_body {
    my $s = shift;

    return $s =~ /^data: / ? norm_sse($s) : norm_json($s) . "\n";
}

# the request the provider gets: request line, headers, then the body
sub upreq {
    my ($body, %o) = @_;

    my $r = 'POST ' . ($o{path} // '/v1/messages') . " HTTP/1.1\r\n"
            . 'Host: ' . ($o{host} // '127.0.0.1') . "\r\n"
            . "Content-Type: application/json\r\n"
            . 'Content-Length: ' . length($body) . "\r\n"
            . 'Accept: ' . ($o{stream} ? 'text/event-stream'
                                       : 'application/json') . "\r\n"
            . "Accept-Encoding: identity\r\n";

    $r .= 'x-api-key: ' . ($o{key} // 'sk-ant-CANARY-test-7d1e') . "\r\n"
        unless $o{nokey};
    $r .= 'anthropic-version: ' . ($o{version} // '2023-06-01') . "\r\n";
    $r .= $o{extra} // '';

    return "$r\r\n$body";
}

sub reply {
    my ($body, $status) = @_;

    return 'HTTP/1.1 ' . ($status // '200 OK')
           . "\r\nContent-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . "Connection: close\r\n\r\n$body";
}

sub chunked {
    return join('', map { sprintf("%x\r\n%s\r\n", length $_, $_) } @_)
           . "0\r\n\r\n";
}

# Anthropic events from payloads: "event: <type>" then "data: <json>"
sub events {
    return map {
        my $t = $J->decode($_)->{type};
        "event: $t\ndata: $_\n\n"
    } @_;
}

sub sse_reply {
    return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
           . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           . chunked(@_);
}

# a vercel *.chunks.txt fixture as Anthropic events
sub chunks_fixture {
    return events(grep { length } split /\n/, fixture(shift));
}

# OpenAI chunks as the client gets them, normalized
sub chunks {
    my ($id, @deltas) = @_;
    my $out = '';

    for my $d (@deltas) {
        if ($d eq '[DONE]') {
            $out .= "data: [DONE]\n\n";
            next;
        }

        my $o = ref $d ? $d : $J->decode($d);

        $o = { id => $id, object => 'chat.completion.chunk', created => 0,
               model => $::Model, %$o }
            unless exists $o->{error};

        $out .= 'data: ' . $J->encode($o) . "\n\n";
    }

    return $out;
}

sub choice {
    my ($delta, $finish) = @_;

    return { choices => [ { index => 0, delta => $delta,
                            finish_reason => $finish } ] };
}

sub completion {
    my ($id, $message, $finish, $usage) = @_;

    my $o = { id => $id, object => 'chat.completion', created => 0,
              model => $::Model,
              choices => [ { index => 0, logprobs => undef,
                             finish_reason => $finish,
                             message => { role => 'assistant',
                                          refusal => undef, %$message } } ],
              usage => $usage };

    return $J->encode($o) . "\n";
}

sub usage {
    my ($p, $c, $cached) = @_;

    return { prompt_tokens => $p, completion_tokens => $c,
             total_tokens => $p + $c,
             prompt_tokens_details => { cached_tokens => $cached // 0 } };
}

sub chat {
    my ($messages, %o) = @_;

    my $o = { model => $::Model, messages => $J->decode($messages), %o };

    return "POST /v1/chat/completions\n" . $J->encode($o);
}

# the data payloads of a raw SSE fixture
sub sse_payloads {
    my $s = shift;

    $s =~ s/\r\n?/\n/g;

    return map { /^data: ?(.*)$/m ? $1 : () } split /\n\n/, $s;
}

# what an OpenAI client gets from Anthropic events (PROVIDERS.md 7.9),
# written here independently of the module
sub translate {
    my ($include_usage, @payloads) = @_;

    my ($id, @out, %blocks, $tools, $finished, $started, %u);

    $tools = 0;

    my $usage = sub {
        my $x = shift or return;

        # each count stays until an event repeats it
        for my $k (qw(input_tokens cache_read_input_tokens
                      cache_creation_input_tokens))
        {
            $u{$k} = $x->{$k} if defined $x->{$k};
        }

        $u{prompt} = ($u{input_tokens} // 0)
                     + ($u{cache_read_input_tokens} // 0)
                     + ($u{cache_creation_input_tokens} // 0);
        $u{cached} = $u{cache_read_input_tokens} // 0;

        $u{completion} = $x->{output_tokens}
            if defined $x->{output_tokens};
    };

    for my $p (@payloads) {
        my $e = $J->decode($p);
        my $t = $e->{type};

        if ($t eq 'message_start') {
            next if $started++;
            $id = $e->{message}{id};
            $usage->($e->{message}{usage});
            push @out, choice({ role => 'assistant', content => '' }, undef);

        } elsif ($t eq 'content_block_start') {
            my $b = $e->{content_block};

            if ($b->{type} eq 'tool_use') {
                $blocks{$e->{index}} = { k => $tools++ };
                push @out, choice({ tool_calls => [ { index =>
                    $blocks{$e->{index}}{k}, id => $b->{id},
                    type => 'function', function => { name => $b->{name},
                    arguments => '' } } ] }, undef);

                if (ref $b->{input} eq 'HASH' && %{ $b->{input} }) {
                    $blocks{$e->{index}}{args} = 1;
                    push @out, choice({ tool_calls => [ { index =>
                        $blocks{$e->{index}}{k}, function => { arguments =>
                        $J->encode($b->{input}) } } ] }, undef);
                }

            } elsif ($b->{type} eq 'text' && length $b->{text}) {
                push @out, choice({ content => $b->{text} }, undef);

            } elsif ($b->{type} eq 'thinking' && length $b->{thinking}) {
                push @out, choice({ reasoning_content => $b->{thinking} },
                                  undef);
            }

        } elsif ($t eq 'content_block_delta') {
            my $d = $e->{delta};
            my $b = $blocks{$e->{index}};

            if ($d->{type} eq 'text_delta' && length $d->{text}) {
                push @out, choice({ content => $d->{text} }, undef);

            } elsif ($d->{type} eq 'thinking_delta'
                     && length $d->{thinking})
            {
                push @out, choice({ reasoning_content => $d->{thinking} },
                                  undef);

            } elsif ($d->{type} eq 'input_json_delta' && $b
                     && length $d->{partial_json})
            {
                $b->{args} = 1;
                push @out, choice({ tool_calls => [ { index => $b->{k},
                    function => { arguments => $d->{partial_json} } } ] },
                    undef);
            }

        } elsif ($t eq 'content_block_stop') {
            my $b = $blocks{$e->{index}};

            if ($b && !$b->{args}++) {
                push @out, choice({ tool_calls => [ { index => $b->{k},
                    function => { arguments => '{}' } } ] }, undef);
            }

        } elsif ($t eq 'message_delta') {
            $usage->($e->{usage});

            my $r = $e->{delta}{stop_reason} // next;
            next if $finished++;

            push @out, choice({}, { end_turn => 'stop',
                stop_sequence => 'stop', pause_turn => 'stop',
                max_tokens => 'length', tool_use => 'tool_calls',
                model_context_window_exceeded => 'length',
                refusal => 'content_filter' }->{$r} // 'stop');

        } elsif ($t eq 'message_stop') {
            push @out, choice({}, 'stop') unless $finished++;

            push @out, { choices => [], usage => usage($u{prompt},
                                                      $u{completion},
                                                      $u{cached}) }
                if $include_usage;

            push @out, '[DONE]';
            last;
        }
    }

    return chunks($id, @out);
}

# a Message as an OpenAI chat.completion (PROVIDERS.md 7.7), written here
# independently of the module
sub translate_message {
    my $m = $J->decode(shift);
    my ($text, $reasoning, @calls) = ('', '');

    for my $b (@{ $m->{content} }) {
        if ($b->{type} eq 'text') {
            $text .= $b->{text};

        } elsif ($b->{type} eq 'thinking') {
            $reasoning .= $b->{thinking};

        } elsif ($b->{type} eq 'tool_use') {
            push @calls, { id => $b->{id}, type => 'function',
                           function => { name => $b->{name},
                               arguments => $J->encode($b->{input} // {}) } };
        }
    }

    my $finish = { max_tokens => 'length', tool_use => 'tool_calls',
                   model_context_window_exceeded => 'length',
                   refusal => 'content_filter' }->{$m->{stop_reason}}
                 // 'stop';

    my %msg = (content => (length $text || !@calls) ? $text : undef);

    $msg{reasoning_content} = $reasoning if length $reasoning;
    $msg{tool_calls} = \@calls if @calls;
    $msg{refusal} = $m->{stop_details}{explanation}
        if $finish eq 'content_filter' && $m->{stop_details};

    my $u = $m->{usage};

    return completion($m->{id}, \%msg, $finish,
        usage($u->{input_tokens} + ($u->{cache_read_input_tokens} // 0)
              + ($u->{cache_creation_input_tokens} // 0),
              $u->{output_tokens}, $u->{cache_read_input_tokens} // 0));
}

# every recorded Anthropic stream and Message
our $FixDir = 'vercel-ai/packages/anthropic/src/__fixtures__';

our @Streams = ((map { s{^t/fixtures/}{}r }
                 sort glob("t/fixtures/$FixDir/*.chunks.txt")),
                'derived/pydantic-ai/test_anthropic/'
                . 'test_anthropic_model_thinking_part_stream/0.response.sse',
                'derived/pydantic-ai/test_anthropic/'
                . 'test_anthropic_model_thinking_part_redacted_stream/'
                . '0.response.sse');

our @Messages = map { s{^t/fixtures/}{}r }
                sort glob("t/fixtures/$FixDir/*.json");

sub payloads_of {
    my $f = shift;

    return $f =~ /\.sse$/ ? sse_payloads(fixture($f))
                          : grep { length } split /\n/, fixture($f);
}

# one provider per recording, each on its own path of the mock
sub fixture_config {
    my ($n) = @_;

    return join '', map {
        "    llm_provider fx$_ type=anthropic key=none\n"
        . "        upstream=127.0.0.1:\$TEST_NGINX_SERVER_PORT base=/fx/$_;\n"
        . "    llm_route fx-$_ fx$_;\n"
    } 0 .. $n - 1;
}

# what an Anthropic event stream says, block by block: type, id, name,
# the text, thinking or input it carries (joined; no input is {}), the
# signature; then the stop reason, up to the first message_stop.  Server
# tool and redacted thinking blocks are left out (the canonical form has
# none), and the texts on both sides of them are joined.
sub summary {
    my $s = shift;
    my (@blocks, %open, $stop);

    for my $p (sse_payloads($s)) {
        my $e = eval { $J->decode($p) } or next;
        my $t = $e->{type} // '';

        if ($t eq 'content_block_start') {
            my $b = $e->{content_block};
            next unless $b->{type} =~ /^(text|thinking|tool_use)$/;

            my $x = { type => $b->{type}, id => $b->{id},
                      name => $b->{name},
                      data => $b->{text} // $b->{thinking} // '' };

            $x->{data} = $J->encode($b->{input})
                if $b->{type} eq 'tool_use' && %{ $b->{input} // {} };

            push @blocks, $x;
            $open{$e->{index}} = $x;

        } elsif ($t eq 'content_block_delta') {
            my $x = $open{$e->{index}} or next;
            my $d = $e->{delta};

            $x->{data} .= $d->{text} // $d->{thinking} // $d->{partial_json}
                          // '';
            $x->{signature} .= $d->{signature} // '';

        } elsif ($t eq 'message_delta') {
            $stop //= $e->{delta}{stop_reason};

        } elsif ($t eq 'message_stop') {
            last;
        }
    }

    my @merged;

    for my $x (@blocks) {
        $x->{data} = '{}' if $x->{type} eq 'tool_use' && $x->{data} eq '';
        delete $x->{signature} if !length($x->{signature} // '');

        # texts that a server tool block separated are one text now
        if ($x->{type} eq 'text' && @merged
            && $merged[-1]{type} eq 'text')
        {
            $merged[-1]{data} .= $x->{data};
            next;
        }

        push @merged, $x;
    }

    return $J->encode({ blocks => \@merged, stop => $stop }) . "\n";
}

our $Model = 'claude-sonnet-4-5';

our $Text = fixture('vercel-ai/packages/anthropic/src/__fixtures__/'
                    . 'anthropic-text.json');

our $TextAnswer = completion('msg_01VdEjxAP5ahtHKrrRdNBteQ',
    { content => "Hello! I'm doing well, thanks for asking. How are you "
                 . "doing today? Is there anything I can help you with?" },
    'stop', usage(12, 29));

repeat_each(2);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (defined $block->must_die) {
        $block->set_value('suppress_stderr', 1);
        $block->set_value('config', "    location = /t { return 204; }\n");
        $block->set_value('request', "GET /t\n");
        return;
    }

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    llm_provider claude type=anthropic
                 upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=env:LLM_TEST_KEY;
    llm_route default claude;
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

    if (!defined $block->response_body_filters
        && (defined $block->response_body
            || defined $block->response_body_eval))
    {
        $block->set_value('response_body_filters', \&::norm_body);
    }
});

env_to_nginx('LLM_TEST_KEY');

run_tests();

__DATA__

=== TEST 1: system messages lifted in order, same-role turns merged;
x-api-key and anthropic-version, no Authorization; max_tokens 4096
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"claude-sonnet-4-5","max_tokens":4096,'
. '"system":[{"type":"text","text":"S1"},{"type":"text","text":"S2"}],'
. '"messages":[{"role":"user","content":[{"type":"text","text":"a"},'
. '{"type":"text","text":"b"}]},{"role":"assistant","content":'
. '[{"type":"text","text":"c"},{"type":"text","text":"d"}]},'
. '{"role":"user","content":[{"type":"text","text":"e"}]}]}')
--- tcp_reply eval: ::reply($::Text)
--- request eval
::chat('[{"role":"system","content":"S1"},{"role":"user","content":"a"},
{"role":"developer","content":"S2"},
{"role":"user","content":[{"type":"text","text":"b"}]},
{"role":"assistant","content":"c"},{"role":"assistant","content":"d"},
{"role":"user","content":"e"}]')
--- more_headers
Authorization: Bearer client-secret
--- response_headers
Content-Type: application/json
X-LLM-Provider: claude
X-LLM-Model: claude-sonnet-4-5
--- response_body eval: $::TextAnswer
--- no_error_log
[error]
sk-ant-CANARY-test-7d1e



=== TEST 2: tool calls and their results: tool_use blocks with the
arguments as input ("" -> {}), all results first in the next user turn;
tools with and without parameters; required + no parallel calls
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"claude-sonnet-4-5","max_tokens":4096,'
. '"messages":[{"role":"user","content":[{"type":"text","text":"q"}]},'
. '{"role":"assistant","content":[{"type":"text","text":"Let me see."},'
. '{"type":"tool_use","id":"toolu_1","name":"weather",'
. '"input":{"city":"Paris"}},'
. '{"type":"tool_use","id":"toolu_2","name":"time","input":{}}]},'
. '{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1",'
. '"content":"18C"},{"type":"tool_result","tool_use_id":"toolu_2",'
. '"content":"noon"},{"type":"text","text":"thanks"}]}],'
. '"tools":[{"name":"weather","description":"Weather of a city",'
. '"input_schema":{"properties":{"city":{"type":"string"}},'
. '"required":["city"],"type":"object"}},{"name":"time","input_schema":{"type":"object",'
. '"properties":{}}}],'
. '"tool_choice":{"type":"any","disable_parallel_tool_use":true}}')
--- tcp_reply eval: ::reply($::Text)
--- request eval
::chat('[{"role":"user","content":"q"},
{"role":"assistant","content":"Let me see.","tool_calls":[
 {"id":"toolu_1","type":"function",
  "function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
 {"id":"toolu_2","type":"function",
  "function":{"name":"time","arguments":""}}]},
{"role":"tool","tool_call_id":"toolu_1","content":"18C"},
{"role":"tool","tool_call_id":"toolu_2","content":"noon"},
{"role":"user","content":"thanks"}]',
tools => [
 { type => 'function', function => { name => 'weather',
   description => 'Weather of a city',
   parameters => { type => 'object',
                   properties => { city => { type => 'string' } },
                   required => ['city'] } } },
 { type => 'function', function => { name => 'time' } } ],
tool_choice => 'required', parallel_tool_calls => JSON::PP::false)
--- response_body eval: $::TextAnswer
--- no_error_log
[error]



=== TEST 3: images: a data URL as base64, an https URL as a url source
(never fetched), a PDF file as a document
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"claude-sonnet-4-5","max_tokens":4096,'
. '"messages":[{"role":"user","content":[{"type":"text","text":"what?"},'
. '{"type":"image","source":{"type":"base64","media_type":"image/png",'
. '"data":"iVBORw0KGgo="}},'
. '{"type":"image","source":{"type":"url",'
. '"url":"https://example.com/a.jpg"}},'
. '{"type":"document","source":{"type":"base64",'
. '"media_type":"application/pdf","data":"JVBERi0xLjQ="}}]}]}')
--- tcp_reply eval: ::reply($::Text)
--- request eval
::chat('[{"role":"user","content":[{"type":"text","text":"what?"},
{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
{"type":"image_url","image_url":{"url":"https://example.com/a.jpg",
 "detail":"high"}},
{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0xLjQ="}}
]}]')
--- response_body eval: $::TextAnswer
--- no_error_log
[error]



=== TEST 4: max_tokens= of the provider, version= and beta= headers,
header= after them
--- http_config
    llm_provider claude type=anthropic
                 upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 host=api.anthropic.com key=env:LLM_TEST_KEY
                 max_tokens=1000 version=2099-01-01
                 beta=interleaved-thinking-2025-05-14 header=X-Trace:1;
    llm_route claude-3 claude;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"claude-3","max_tokens":1000,"messages":[{"role":"user",'
. '"content":[{"type":"text","text":"hi"}]}]}',
host => 'api.anthropic.com', version => '2099-01-01',
extra => "anthropic-beta: interleaved-thinking-2025-05-14\r\n"
         . "X-Trace: 1\r\n")
--- tcp_reply eval: ::reply($::Text)
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"claude-3","messages":[{"role":"user","content":"hi"}]}'
--- response_headers
X-LLM-Model: claude-3
--- no_error_log
[error]



=== TEST 5: max_tokens of the request wins; an alias is the upstream model
--- http_config
    llm_provider claude type=anthropic
                 upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=env:LLM_TEST_KEY max_tokens=1000;
    llm_route claude-4 claude:claude-opus-4-1;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"claude-opus-4-1","max_tokens":77,"messages":[{"role":'
. '"user","content":[{"type":"text","text":"hi"}]}]}')
--- tcp_reply eval: ::reply($::Text)
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"claude-4","max_completion_tokens":77,'
. '"messages":[{"role":"user","content":"hi"}]}'
--- response_headers
X-LLM-Model: claude-opus-4-1
--- no_error_log
[error]



=== TEST 6: sampling: temperature above 1 clamped, top_p, whitespace-only
stop sequences dropped, user as metadata.user_id; key=none: no x-api-key
--- http_config
    llm_provider claude type=anthropic
                 upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1 key=none;
    llm_route default claude;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"claude-sonnet-4-5","max_tokens":4096,"messages":'
. '[{"role":"user","content":[{"type":"text","text":"hi"}]}],'
. '"temperature":1,"top_p":0.9,"stop_sequences":["END","\n\n##"],'
. '"metadata":{"user_id":"u-42"}}', nokey => 1)
--- tcp_reply eval: ::reply($::Text)
--- request eval
::chat('[{"role":"user","content":"hi"}]', temperature => 1.5,
       top_p => 0.9, stop => ["END", " \n", "\n\n##"], user => 'u-42',
       seed => 7, presence_penalty => 0.5)
--- response_body eval: $::TextAnswer
--- no_error_log
[error]



=== TEST 7: temperature up to 1 is kept
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"claude-sonnet-4-5","max_tokens":4096,"messages":'
. '[{"role":"user","content":[{"type":"text","text":"hi"}]}],'
. '"temperature":0.25,"stop_sequences":["x"]}')
--- tcp_reply eval: ::reply($::Text)
--- request eval
::chat('[{"role":"user","content":"hi"}]', temperature => 0.25,
       stop => "x")
--- response_body eval: $::TextAnswer
--- no_error_log
[error]



=== TEST 8: reasoning_effort: thinking with its budget, max_tokens raised
above it; no temperature with thinking
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"claude-sonnet-4-5","max_tokens":2548,"messages":'
. '[{"role":"user","content":[{"type":"text","text":"hi"}]}],'
. '"thinking":{"type":"enabled","budget_tokens":2048}}')
--- tcp_reply eval: ::reply($::Text)
--- request eval
::chat('[{"role":"user","content":"hi"}]', reasoning_effort => 'medium',
       max_tokens => 500, temperature => 0.5)
--- response_body eval: $::TextAnswer
--- no_error_log
[error]



=== TEST 9: arguments JSON passed as the input, escapes kept; a tool
result of several parts; reasoning_content without a signature is left
out (Anthropic would reject it); a named tool_choice
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"claude-sonnet-4-5","max_tokens":4096,'
. '"messages":[{"role":"user","content":[{"type":"text","text":"q"}]},'
. '{"role":"assistant","content":[{"type":"tool_use","id":"toolu_9",'
. '"name":"f","input":{"a":[1,{"b":"\\u00e9"}]}}]},'
. '{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_9",'
. '"content":[{"type":"text","text":"r1"},{"type":"text","text":"r2"}]}]}],'
. '"tools":[{"name":"f","input_schema":{"type":"object"}}],'
. '"tool_choice":{"type":"tool","name":"f"}}')
--- tcp_reply eval: ::reply($::Text)
--- request eval
::chat('[{"role":"user","content":"q"},
{"role":"assistant","content":null,"reasoning_content":"hmm","tool_calls":[
 {"id":"toolu_9","type":"function",
  "function":{"name":"f","arguments":" {\"a\":[1,{\"b\":\"\\\\u00e9\"}]}"}}]},
{"role":"tool","tool_call_id":"toolu_9",
 "content":[{"type":"text","text":"r1"},{"type":"text","text":"r2"}]}]',
tools => [ { type => 'function', function => { name => 'f',
             parameters => { type => 'object' } } } ],
tool_choice => { type => 'function', function => { name => 'f' } })
--- response_body eval: $::TextAnswer
--- no_error_log
[error]



=== TEST 10: tool_choice none; an empty user message is left out
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"claude-sonnet-4-5","max_tokens":4096,'
. '"messages":[{"role":"user","content":[{"type":"text","text":"q"}]}],'
. '"tools":[{"name":"f","input_schema":{"type":"object","properties":{}}}],'
. '"tool_choice":{"type":"none"}}')
--- tcp_reply eval: ::reply($::Text)
--- request eval
::chat('[{"role":"user","content":"q"},{"role":"user","content":""}]',
       tools => [ { type => 'function', function => { name => 'f' } } ],
       tool_choice => 'none')
--- no_error_log
[error]



=== TEST 11: tool_choice auto; a final assistant turn (prefill) loses its
trailing whitespace
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"claude-sonnet-4-5","max_tokens":4096,'
. '"messages":[{"role":"user","content":[{"type":"text","text":"q"}]},'
. '{"role":"assistant","content":[{"type":"text","text":"The answer:"}]}],'
. '"tools":[{"name":"f","input_schema":{"type":"object","properties":{}}}],'
. '"tool_choice":{"type":"auto"}}')
--- tcp_reply eval: ::reply($::Text)
--- request eval
::chat('[{"role":"user","content":"q"},
{"role":"assistant","content":"The answer: \n"}]',
       tools => [ { type => 'function', function => { name => 'f' } } ],
       tool_choice => 'auto')
--- no_error_log
[error]



=== TEST 12: response_format json_schema: a forced tool, its input is the
answer's content
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"claude-sonnet-4-5","max_tokens":4096,'
. '"messages":[{"role":"user","content":[{"type":"text","text":"q"}]}],'
. '"tools":[{"name":"json_response","description":"Your answer: call this '
. 'tool with it as the input (city)","input_schema":{"properties":'
. '{"name":{"type":"string"}},"type":"object"}}],'
. '"tool_choice":{"type":"tool","name":"json_response"}}')
--- tcp_reply eval
::reply('{"id":"msg_j","type":"message","role":"assistant",'
. '"model":"claude-sonnet-4-5-20250929","content":[{"type":"tool_use",'
. '"id":"toolu_j","name":"json_response","input":{"name": "Paris"}}],'
. '"stop_reason":"tool_use","usage":{"input_tokens":20,"output_tokens":9}}')
--- request eval
::chat('[{"role":"user","content":"q"}]',
       response_format => { type => 'json_schema', json_schema => {
           name => 'city', strict => JSON::PP::true,
           schema => { type => 'object',
                       properties => { name => { type => 'string' } } } } })
--- response_body eval
::completion('msg_j', { content => '{"name":"Paris"}' }, 'stop',
             ::usage(20, 9))
--- no_error_log
[error]



=== TEST 13: stream: Accept and "stream":true; text, the finish chunk,
[DONE]; no usage chunk without include_usage
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"claude-sonnet-4-5","max_tokens":4096,'
. '"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],'
. '"stream":true}', stream => 1)
--- tcp_reply eval
::sse_reply(::chunks_fixture('vercel-ai/packages/anthropic/src/__fixtures__/'
                             . 'anthropic-message-delta-input-tokens'
                             . '.chunks.txt'))
--- request eval
::chat('[{"role":"user","content":"hi"}]', stream => JSON::PP::true)
--- response_headers
Content-Type: text/event-stream
--- response_body eval
::chunks('msg_3196a1cc08de4d76b85b8f5777c0d42b',
         ::choice({ role => 'assistant', content => '' }, undef),
         ::choice({ content => 'p' }, undef),
         ::choice({ content => 'ong' }, undef),
         ::choice({}, 'stop'),
         '[DONE]')
--- no_error_log
[error]



=== TEST 14: tool_use after a text block: content and tool_calls, an
input {} as "{}", finish tool_calls, usage
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::reply(::fixture('vercel-ai/packages/anthropic/src/__fixtures__/'
                  . 'anthropic-tool-no-args.json'))
--- request eval
::chat('[{"role":"user","content":"update"}]')
--- response_body eval
::completion('msg_01GCBaV8gyWAYgMVggRqZbuQ',
    { content => "<thinking>\nThe updateIssueList tool was provided in the "
                 . "list of available functions. The tool has no required "
                 . "parameters, so it can be called without any additional "
                 . "information needed from the user.\n</thinking>\n\n"
                 . "Okay, I will update the current issue list:",
      tool_calls => [ { id => 'toolu_01LRmxn9vGM1d2DZSDBowdZ1',
                        type => 'function',
                        function => { name => 'updateIssueList',
                                      arguments => '{}' } } ] },
    'tool_calls', ::usage(602, 93))
--- no_error_log
[error]



=== TEST 15: parallel tool calls; pretty-printed inputs become compact
arguments
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::reply(::fixture('derived/pydantic-ai/test_anthropic/'
                  . 'test_multiple_parallel_tool_calls/0.response.json'))
--- request eval
::chat('[{"role":"user","content":"who is the youngest?"}]')
--- response_body eval
::completion('msg_011S3wxtqL5CVescWqS3zeg2',
    { content => "I'll help you find out who is the youngest by retrieving "
                 . "information about each family member. I'll retrieve "
                 . "their entity information to compare their ages.",
      tool_calls => [ map { { id => $_->[0], type => 'function',
                              function => { name => 'retrieve_entity_info',
                                            arguments =>
                                                "{\"name\":\"$_->[1]\"}" } } }
                      ['toolu_0167cfEnoQaPviGdVXA95zcu', 'Alice'],
                      ['toolu_01EEe2V5HD1Ac4rKiUR4HD2T', 'Bob'],
                      ['toolu_01XFyAjstT3966qvRynZyVPo', 'Charlie'],
                      ['toolu_013mnQZbgtK2oe3Mo3XKJsx3', 'Daisy'] ] },
    'tool_calls', ::usage(423, 202))
--- no_error_log
[error]



=== TEST 16: a thinking block as reasoning_content
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::reply(::fixture('derived/pydantic-ai/test_anthropic/'
                  . 'test_anthropic_tool_with_thinking/0.response.json'))
--- request eval
::chat('[{"role":"user","content":"largest city?"}]')
--- response_body eval
my $r = $::J->decode(::fixture('derived/pydantic-ai/test_anthropic/'
                     . 'test_anthropic_tool_with_thinking/0.response.json'));
::completion('msg_01WvueFjZVbHcj4H4zUzeGv2',
    { reasoning_content => $r->{content}[0]{thinking},
      content => $r->{content}[1]{text},
      tool_calls => [ { id => 'toolu_01YGzqpRE16Vricda3Aqcejo',
                        type => 'function',
                        function => { name => 'get_user_country',
                                      arguments => '{}' } } ] },
    'tool_calls', ::usage(398, 155))
--- no_error_log
[error]



=== TEST 17: redacted thinking is not shown; cache reads and writes count
in prompt_tokens, reads as cached_tokens
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
my $r = ::fixture('derived/pydantic-ai/test_anthropic/'
                  . 'test_anthropic_model_thinking_part_redacted/'
                  . '0.response.json');
$r =~ s/"cache_creation_input_tokens": 0/"cache_creation_input_tokens": 5/;
$r =~ s/"cache_read_input_tokens": 0/"cache_read_input_tokens": 100/;
::reply($r)
--- request eval
::chat('[{"role":"user","content":"hi"}]')
--- response_body eval
my $r = $::J->decode(::fixture('derived/pydantic-ai/test_anthropic/'
                     . 'test_anthropic_model_thinking_part_redacted/'
                     . '0.response.json'));
::completion('msg_01TbZ1ZKNMPq28AgBLyLX3c4',
    { content => $r->{content}[1]{text} }, 'stop', ::usage(197, 196, 100))
--- no_error_log
[error]



=== TEST 18: refusal: content_filter, the explanation as the refusal
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::reply(::fixture('vercel-ai/packages/anthropic/src/__fixtures__/'
                  . 'anthropic-refusal.json'))
--- request eval
::chat('[{"role":"user","content":"hi"}]')
--- response_body eval
::completion('msg_01RefusalExampleAbcdefghijk',
    { content => '', refusal => 'This request triggered restrictions on '
      . 'violative cyber content and was blocked under Anthropic\'s Usage '
      . 'Policy.' }, 'content_filter', ::usage(18, 5))
--- no_error_log
[error]



=== TEST 19: stream: a tool call after a text block has index 0, its
empty input is "{}"; the usage chunk with include_usage; pings ignored
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::sse_reply(::chunks_fixture('vercel-ai/packages/anthropic/src/__fixtures__/'
                             . 'anthropic-tool-no-args.chunks.txt'))
--- request eval
::chat('[{"role":"user","content":"hi"}]', stream => JSON::PP::true,
       stream_options => { include_usage => JSON::PP::true })
--- response_body eval
::chunks('msg_01GE2RKp1VYsPzdFs3sS9z5S',
    ::choice({ role => 'assistant', content => '' }, undef),
    ::choice({ content => "I'll update the issue list for" }, undef),
    ::choice({ content => ' you.' }, undef),
    ::choice({ tool_calls => [ { index => 0,
        id => 'toolu_01QE1WLsSVp5hy5Q3GmGTmjP', type => 'function',
        function => { name => 'updateIssueList', arguments => '' } } ] },
        undef),
    ::choice({ tool_calls => [ { index => 0,
        function => { arguments => '{}' } } ] }, undef),
    ::choice({}, 'tool_calls'),
    { choices => [], usage => ::usage(565, 48) },
    '[DONE]')
--- no_error_log
[error]



=== TEST 20: stream: thinking as reasoning_content (raw recording: event
lines, pings, JSON padded with blanks), usage from message_delta
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::sse_reply(::fixture('derived/pydantic-ai/test_anthropic/'
                      . 'test_anthropic_model_thinking_part_stream/'
                      . '0.response.sse'))
--- request eval
::chat('[{"role":"user","content":"how to cross?"}]',
       stream => JSON::PP::true,
       stream_options => { include_usage => JSON::PP::true })
--- response_body eval
::translate(1, ::sse_payloads(::fixture('derived/pydantic-ai/'
    . 'test_anthropic/test_anthropic_model_thinking_part_stream/'
    . '0.response.sse')))
--- no_error_log
[error]



=== TEST 21: stream: redacted thinking, nothing of it shown
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::sse_reply(::fixture('derived/pydantic-ai/test_anthropic/'
                      . 'test_anthropic_model_thinking_part_redacted_stream/'
                      . '0.response.sse'))
--- request eval
::chat('[{"role":"user","content":"hi"}]', stream => JSON::PP::true)
--- response_body eval
::translate(0, ::sse_payloads(::fixture('derived/pydantic-ai/'
    . 'test_anthropic/test_anthropic_model_thinking_part_redacted_stream/'
    . '0.response.sse')))
--- no_error_log
[error]



=== TEST 22: stream: server tool blocks (web search) and citations are
left out, their input_json_delta too; the text blocks are content
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::sse_reply(::chunks_fixture('vercel-ai/packages/anthropic/src/__fixtures__/'
                             . 'anthropic-web-search-tool.1.chunks.txt'))
--- request eval
::chat('[{"role":"user","content":"news?"}]', stream => JSON::PP::true,
       stream_options => { include_usage => JSON::PP::true })
--- response_body eval
::translate(1, grep { length } split /\n/,
            ::fixture('vercel-ai/packages/anthropic/src/__fixtures__/'
                      . 'anthropic-web-search-tool.1.chunks.txt'))
--- no_error_log
[error]



=== TEST 23: stream: a repeated message_start changes nothing; a refusal
is content_filter
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::sse_reply(::chunks_fixture('vercel-ai/packages/anthropic/src/__fixtures__/'
                             . 'duplicate-message-start.chunks.txt'),
            ::chunks_fixture('vercel-ai/packages/anthropic/src/__fixtures__/'
                             . 'anthropic-refusal.chunks.txt'))
--- request eval
::chat('[{"role":"user","content":"hi"}]', stream => JSON::PP::true)
--- response_body eval
::chunks('msg_dup',
    ::choice({ role => 'assistant', content => '' }, undef),
    ::choice({ content => 'Hello, World!' }, undef),
    ::choice({}, 'stop'),
    '[DONE]')
--- no_error_log
[error]



=== TEST 24: stream: refusal
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::sse_reply(::chunks_fixture('vercel-ai/packages/anthropic/src/__fixtures__/'
                             . 'anthropic-refusal.chunks.txt'))
--- request eval
::chat('[{"role":"user","content":"hi"}]', stream => JSON::PP::true)
--- response_body eval
::chunks('msg_01RefusalStreamAbcdefghijk',
    ::choice({ role => 'assistant', content => '' }, undef),
    ::choice({}, 'content_filter'),
    '[DONE]')
--- no_error_log
[error]



=== TEST 25: stream split anywhere in time: inside "event:", inside the
JSON, between the two line ends
--- http_config
    llm_provider claude type=anthropic upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/sse key=none;
    llm_route default claude;
--- config
    location /sse/ {
        default_type text/event-stream;
        echo_read_request_body;
        echo -n 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_s","type":"message","role":"assistant","content":[],"model":"claude-x","usage":{"input_tokens":3,"output_tokens":1}}}\n\neve';
        echo_flush;
        echo_sleep 0.01;
        echo -n 'nt: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel';
        echo_flush;
        echo_sleep 0.01;
        echo -n 'lo"}}\n';
        echo_flush;
        echo_sleep 0.01;
        echo -n '\nevent: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\nevent: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":2}}\n\nevent: message_st';
        echo_flush;
        echo_sleep 0.01;
        echo -n 'op\ndata: {"type":"message_stop"}\n\n';
    }
--- request eval
::chat('[{"role":"user","content":"hi"}]', stream => JSON::PP::true,
       stream_options => { include_usage => JSON::PP::true })
--- response_body eval
::chunks('msg_s',
    ::choice({ role => 'assistant', content => '' }, undef),
    ::choice({ content => 'Hello' }, undef),
    ::choice({}, 'length'),
    { choices => [], usage => ::usage(3, 2) },
    '[DONE]')
--- no_error_log
[error]



=== TEST 26: stream: an error event mid-stream: the OpenAI error chunk,
no [DONE]
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::sse_reply(::events(
 '{"type":"message_start","message":{"id":"msg_e","type":"message","role":"assistant","content":[],"model":"claude-x","usage":{"input_tokens":3,"output_tokens":1}}}',
 '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
 '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}',
 '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'))
--- request eval
::chat('[{"role":"user","content":"hi"}]', stream => JSON::PP::true)
--- response_body eval
::chunks('msg_e',
    ::choice({ role => 'assistant', content => '' }, undef),
    ::choice({ content => 'Hi' }, undef),
    { error => { message => 'Overloaded', type => 'overloaded_error',
                 param => undef, code => undef } })
--- error_log
llm provider "claude" sent an error event: overloaded_error



=== TEST 27: stream: the body ends without message_stop: an error chunk
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::sse_reply(::events(
 '{"type":"message_start","message":{"id":"msg_t","type":"message","role":"assistant","content":[],"model":"claude-x","usage":{"input_tokens":3,"output_tokens":1}}}',
 '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
 '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}'))
--- request eval
::chat('[{"role":"user","content":"hi"}]', stream => JSON::PP::true)
--- response_body eval
::chunks('msg_t',
    ::choice({ role => 'assistant', content => '' }, undef),
    ::choice({ content => 'Hi' }, undef),
    { error => { message => "The model provider's stream ended before the "
                            . 'message was complete.',
                 type => 'api_error', param => undef, code => undef } })
--- error_log
llm provider "claude" stream ended without message_stop



=== TEST 28: 529 overloaded: 503 with the provider's message and type
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::reply('{"type":"error","error":{"type":"overloaded_error",'
        . '"message":"Overloaded"},"request_id":"req_1"}',
        '529 Overloaded')
--- request eval
::chat('[{"role":"user","content":"hi"}]', stream => JSON::PP::true)
--- error_code: 503
--- response_body eval
$::J->encode({ error => { message => 'Overloaded',
    type => 'overloaded_error', param => undef, code => undef } }) . "\n"
--- error_log
llm provider "claude" answered 529



=== TEST 29: 400: the recorded error, its message and type
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::reply(::fixture('derived/pydantic-ai/test_anthropic/'
                  . 'test_anthropic_explicit_effort_xhigh_unsupported_model_'
                  . 'errors/0.response.json'), '400 Bad Request')
--- request eval
::chat('[{"role":"user","content":"hi"}]')
--- error_code: 400
--- response_body eval
$::J->encode({ error => { message => "This model does not support effort "
    . "level 'xhigh'. Supported levels: high, low, max, medium.",
    type => 'invalid_request_error', param => undef, code => undef } })
. "\n"
--- no_error_log
[error]



=== TEST 30: 413 request_too_large: folded into invalid_request_error, the
Anthropic type as the code
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::reply('{"type":"error","error":{"type":"request_too_large",'
        . '"message":"Request exceeds the maximum size"}}',
        '413 Payload Too Large')
--- request eval
::chat('[{"role":"user","content":"hi"}]')
--- error_code: 413
--- response_body eval
$::J->encode({ error => { message => 'Request exceeds the maximum size',
    type => 'invalid_request_error', param => undef,
    code => 'request_too_large' } }) . "\n"
--- no_error_log
[error]



=== TEST 31: 401: the gateway's key was rejected: 502, the provider's
message is not shown
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::reply('{"type":"error","error":{"type":"authentication_error",'
        . '"message":"invalid x-api-key"}}', '401 Unauthorized')
--- request eval
::chat('[{"role":"user","content":"hi"}]')
--- error_code: 502
--- response_body eval
$::J->encode({ error => { message => "The model provider rejected the "
    . "gateway's credentials.", type => 'api_error', param => undef,
    code => 'upstream_auth_error' } }) . "\n"
--- error_log
rejected the configured key



=== TEST 32: a 200 that is not a Message: 502
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::reply('{"object":"chat.completion","choices":[]}')
--- request eval
::chat('[{"role":"user","content":"hi"}]')
--- error_code: 502
--- error_log
upstream sent invalid JSON in a 200 response



=== TEST 33: every recorded stream, as the reference translation above
--- http_config eval: ::fixture_config(scalar @::Streams)
--- config
    location ~ ^/fx/(\d+)/messages$ {
        default_type text/event-stream;
        echo_read_request_body;
        echo_location /fixture/$1.sse;
    }

    location /fixture/ {
        root html;
    }
--- user_files eval
[ map { [ "fixture/$_.sse",
          CORE::join('', ::events(::payloads_of($::Streams[$_]))) ] }
      0 .. $#::Streams ]
--- request eval
[ map { "POST /v1/chat/completions\n" . $::J->encode({ model => "fx-$_",
        stream => JSON::PP::true, stream_options => { include_usage =>
        JSON::PP::true }, messages => [ { role => 'user',
        content => 'hi' } ] }) } 0 .. $#::Streams ]
--- response_body eval
[ map { local $::Model = "fx-$_";
        ::translate(1, ::payloads_of($::Streams[$_])) } 0 .. $#::Streams ]
--- no_error_log
[error]



=== TEST 34: every recorded Message, as the reference translation above
--- http_config eval: ::fixture_config(scalar @::Messages)
--- config
    location ~ ^/fx/(\d+)/messages$ {
        default_type application/json;
        echo_read_request_body;
        echo_location /fixture/$1.json;
    }

    location /fixture/ {
        root html;
    }
--- user_files eval
[ map { [ "fixture/$_.json", ::fixture($::Messages[$_]) ] }
      0 .. $#::Messages ]
--- request eval
[ map { "POST /v1/chat/completions\n" . $::J->encode({ model => "fx-$_",
        messages => [ { role => 'user', content => 'hi' } ] }) }
      0 .. $#::Messages ]
--- response_body eval
[ map { local $::Model = "fx-$_";
        ::translate_message(::fixture($::Messages[$_])) }
      0 .. $#::Messages ]
--- no_error_log
[error]



=== TEST 35: response_format json_object in a stream: the forced tool's
input arrives as content, finish stop
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"claude-sonnet-4-5","max_tokens":4096,'
. '"messages":[{"role":"user","content":[{"type":"text","text":"q"}]}],'
. '"tools":[{"name":"json_response","description":"Your answer: call this '
. 'tool with it as the input","input_schema":{"type":"object"}}],'
. '"tool_choice":{"type":"tool","name":"json_response"},"stream":true}',
stream => 1)
--- tcp_reply eval
::sse_reply(::events(
 '{"type":"message_start","message":{"id":"msg_js","type":"message","role":"assistant","content":[],"model":"claude-x","usage":{"input_tokens":30,"output_tokens":1}}}',
 '{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_js","name":"json_response","input":{}}}',
 '{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}',
 '{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\": "}}',
 '{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"1}"}}',
 '{"type":"content_block_stop","index":0}',
 '{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":12}}',
 '{"type":"message_stop"}'))
--- request eval
::chat('[{"role":"user","content":"q"}]', stream => JSON::PP::true,
       response_format => { type => 'json_object' })
--- response_body eval
::chunks('msg_js',
    ::choice({ role => 'assistant', content => '' }, undef),
    ::choice({ content => '{"a": ' }, undef),
    ::choice({ content => '1}' }, undef),
    ::choice({}, 'stop'),
    '[DONE]')
--- no_error_log
[error]



=== TEST 36: response_format with tools of the request: dropped, said so
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"claude-sonnet-4-5","max_tokens":4096,'
. '"messages":[{"role":"user","content":[{"type":"text","text":"q"}]}],'
. '"tools":[{"name":"f","input_schema":{"type":"object","properties":{}}}]}')
--- tcp_reply eval: ::reply($::Text)
--- request eval
::chat('[{"role":"user","content":"q"}]',
       tools => [ { type => 'function', function => { name => 'f' } } ],
       response_format => { type => 'json_object' })
--- response_body eval: $::TextAnswer
--- error_log
llm anthropic: response_format is dropped with tools or thinking
--- no_error_log
[error]



=== TEST 37: tool call arguments that are not a JSON object: 400 (the
adapter would refuse them too)
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: ::reply($::Text)
--- request eval
::chat('[{"role":"user","content":"q"},
{"role":"assistant","content":null,"tool_calls":[
 {"id":"toolu_x","type":"function",
  "function":{"name":"f","arguments":"[1,2]"}}]},
{"role":"tool","tool_call_id":"toolu_x","content":"r"}]')
--- error_code: 400
--- response_body_like: "type":"invalid_request_error"
--- no_error_log
[error]



=== TEST 38: beta= is only for type=anthropic
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=none beta=x;
--- must_die
--- error_log
"beta" of llm_provider "p" is only for type=anthropic



=== TEST 39: max_tokens= is not for passthrough types
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=none max_tokens=10;
--- must_die
--- error_log
"max_tokens" of llm_provider "p" is only for translated types such as anthropic



=== TEST 40: max_tokens= must be a positive number
--- http_config
    llm_provider p type=anthropic upstream=127.0.0.1:1 key=none max_tokens=0;
--- must_die
--- error_log
invalid parameter "max_tokens=0"



=== TEST 41: type=anthropic needs a key
--- http_config
    llm_provider p type=anthropic upstream=127.0.0.1:1;
--- must_die
--- error_log
llm_provider "p" of type "anthropic" needs "key=env:NAME"



=== TEST 42: an Anthropic client of an Anthropic provider: its request
comes back out, signed thinking byte for byte, max_tokens and thinking
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
my $r = $::J->decode(::fixture('derived/pydantic-ai/test_anthropic/'
                     . 'test_anthropic_tool_with_thinking/1.request.json'));
my $th = $r->{messages}[1]{content}[0];
::upreq('{"model":"claude-sonnet-4-0","max_tokens":4096,"messages":['
. '{"role":"user","content":[{"type":"text","text":"What is the largest '
. 'city in the user country?"}]},{"role":"assistant","content":['
. '{"type":"thinking","thinking":' . $::J->encode($th->{thinking})
. ',"signature":' . $::J->encode($th->{signature}) . '},'
. '{"type":"text","text":' . $::J->encode($r->{messages}[1]{content}[1]{text})
. '},{"type":"tool_use","id":"toolu_01YGzqpRE16Vricda3Aqcejo",'
. '"name":"get_user_country","input":{}}]},{"role":"user","content":['
. '{"type":"tool_result","tool_use_id":"toolu_01YGzqpRE16Vricda3Aqcejo",'
. '"content":"Mexico"}]}],"tools":[{"name":"get_user_country",'
. '"input_schema":{"additionalProperties":false,"properties":{},'
. '"type":"object"}}],"tool_choice":{"type":"auto"},'
. '"thinking":{"type":"enabled","budget_tokens":3000}}')
--- tcp_reply eval: ::reply($::Text)
--- request eval
"POST /v1/messages\n"
. $::J->encode($::J->decode(::fixture('derived/pydantic-ai/test_anthropic/'
               . 'test_anthropic_tool_with_thinking/1.request.json')))
--- response_body_like: "text":"Hello! I'm doing well
--- no_error_log
[error]



=== TEST 43: Anthropic clients of an Anthropic provider: recorded streams
come back with the same blocks, texts, inputs, signatures, stop reasons
--- http_config eval: ::fixture_config(scalar @::Streams)
--- config
    location ~ ^/fx/(\d+)/messages$ {
        default_type text/event-stream;
        echo_read_request_body;
        echo_location /fixture/$1.sse;
    }

    location /fixture/ {
        root html;
    }
--- user_files eval
[ map { [ "fixture/$_.sse",
          CORE::join('', ::events(::payloads_of($::Streams[$_]))) ] }
      0 .. $#::Streams ]
--- request eval
[ map { "POST /v1/messages\n" . $::J->encode({ model => "fx-$_",
        max_tokens => 100, stream => JSON::PP::true,
        messages => [ { role => 'user', content => 'hi' } ] }) }
      0 .. $#::Streams ]
--- response_body_filters eval: \&::summary
--- response_body eval
[ map { ::summary(CORE::join('', ::events(::payloads_of($::Streams[$_]))))
      } 0 .. $#::Streams ]
--- no_error_log
[error]



=== TEST 44: stream: cache reads and writes of message_start stay when
message_delta repeats only input_tokens
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::sse_reply(::events(
 '{"type":"message_start","message":{"id":"msg_c","type":"message","role":"assistant","content":[],"model":"claude-x","usage":{"input_tokens":10,"cache_read_input_tokens":100,"cache_creation_input_tokens":5,"output_tokens":1}}}',
 '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
 '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}}',
 '{"type":"content_block_stop","index":0}',
 '{"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"END"},"usage":{"input_tokens":10,"output_tokens":7}}',
 '{"type":"message_stop"}'))
--- request eval
::chat('[{"role":"user","content":"hi"}]', stream => JSON::PP::true,
       stream_options => { include_usage => JSON::PP::true })
--- response_body eval
::chunks('msg_c',
    ::choice({ role => 'assistant', content => '' }, undef),
    ::choice({ content => 'ok' }, undef),
    ::choice({}, 'stop'),
    { choices => [], usage => ::usage(115, 7, 100) },
    '[DONE]')
--- no_error_log
[error]
