# The fault matrix of issue #4: every way a provider fails (reset before
# the header or in the middle of the body, stall before or after the
# header, 429 with and without Retry-After, 500/502/503/504/529, invalid
# JSON, a truncated chunked body, an in-band error; a spend-cap 429 and a
# 400), for a stream and a non-stream request, with a fallback and
# without.  The mock is t/LLMFault.pm (a forked server, one child per
# connection: resets, stalls); llm_read_timeout is 300 ms and the
# client gives up after 3 s, so a hang fails the block.
#
# Every cell asserts its outcome: the fallback's answer whole and alone,
# or a clean error in the client's format with its status; for a
# stream that failed after its first byte, the primary's event, then one
# error event, no [DONE], no fallback (X-LLM-Attempts: 1); and one
# line in the error log that says why (an error, or the warning that the
# next target is tried).
#
# The blocks are generated from the table below.

use Test::Nginx::Socket 'no_plan';
use t::LLMFault;

t::LLMFault::start();

our $Good = $t::LLMFault::Good;
our $GoodStream = t::LLMFault::good_stream();
our $First = t::LLMFault::sse($t::LLMFault::First);

# the client's error, OpenAI format: a whole JSON body, or an SSE event
our $ErrJson = qr/\A\{"error":\{"message":"[^"]+","type":"[a-z_]+",
                  "param":null,"code":(?:null|"[a-z_]+")\}\}\n?\z/x;
our $ErrEvent = qr/data:\ \{"error":\{"message":"[^"]+","type":"[a-z_]+",
                   "param":null,"code":(?:null|"[a-z_]+")\}\}\n\n\z/x;

# fault => [non-stream without fallback: status, log line,
#           non-stream fallback reason,
#           stream: "fb" (a fallback before the first byte, the same
#           status without), "after" (an error event; with a fallback,
#           the fallback: the header waits for the first event), or
#           "after-first" (the primary's first event, then an error
#           event, with a fallback or not)]
#
# a log line is a regex on the one [error] or [warn] line of the block

our @Faults = (
    # fault     status  log without fallback                reason
    [ 'rst0',    502, qr/Connection reset by peer/,          'error from bad',
      'fb' ],
    [ 'rst1',    502, qr/Connection reset by peer/,          'error from bad',
      'after-first' ],
    [ 'stall0',  504, qr/upstream timed out/,                'timeout from bad',
      'fb' ],
    [ 'stall1',  504, qr/upstream timed out/,                'timeout from bad',
      'after' ],
    [ 's429',    429, qr/answered 429/,                      '429 from bad',
      'fb' ],
    [ 's429r',   429, qr/answered 429/,                      '429 from bad',
      'fb' ],
    [ 's500',    500, qr/answered 500/,                      '500 from bad',
      'fb' ],
    [ 's502',    502, qr/answered 502/,                      '502 from bad',
      'fb' ],
    [ 's503',    503, qr/answered 503/,                      '503 from bad',
      'fb' ],
    [ 's504',    504, qr/answered 504/,                      '504 from bad',
      'fb' ],
    [ 's529',    503, qr/answered 529/,                      '529 from bad',
      'fb' ],
    [ 'badjson', 502, qr/upstream sent invalid JSON/,
      'invalid response from bad', 'after' ],
    [ 'trunc',   502, qr/upstream prematurely closed/,       'error from bad',
      'after-first' ],
    [ 'inband',  502, qr/answered 200/,
      'invalid response from bad', 'after' ],
);

sub req {
    my ($stream) = @_;
    return '{"model":"m",' . ($stream ? '"stream":true,' : '')
           . '"messages":[{"role":"user","content":"hi"}]}';
}

sub block {
    my (%b) = @_;
    my $s = "=== TEST: $b{name}\n";
    $s .= "--- http_config\n"
          . "    llm_route m bad:gpt-4o"
          . ($b{fb} ? " fallback=good:gpt-4o-mini" : '') . ";\n"
          . "    llm_provider bad type=openai host=localhost key=none\n"
          . "        upstream=127.0.0.1:\$TEST_NGINX_FAULT_PORT"
          . " base=/$b{fault};\n";
    for my $k (sort grep { /^--/ } keys %b) {
        (my $sec = $k) =~ s/^--//;
        $s .= $sec eq 'error_code' ? "--- $sec: $b{$k}\n"
                                   : "--- $sec\n$b{$k}\n";
    }
    return $s . "\n\n\n";
}

my $spec = '';

for my $f (@Faults) {
    my ($fault, $status, $log, $reason, $st) = @$f;

    # non-stream, no fallback: the error, in the client's format
    $spec .= block(name => "$fault, non-stream, no fallback: $status",
        fault => $fault,
        '--request eval' => "\"POST /v1/chat/completions\\n\" . ::req(0)",
        '--error_code' => $status,
        '--response_headers' => "X-Fb: 1|"
            . ($fault eq 's429r' ? "\nRetry-After: 7" : ''),
        '--response_body_like eval' => '$::ErrJson',
        '--grep_error_log eval' => 'qr/\[(?:error|warn)\].*/',
        '--grep_error_log_out eval' => "[qr/\\A[^\\n]*$log"
                                       . "[^\\n]*\\n\\z/]");

    # non-stream, fallback: the fallback's answer, whole and alone
    $spec .= block(name => "$fault, non-stream, fallback: served",
        fault => $fault, fb => 1,
        '--request eval' => "\"POST /v1/chat/completions\\n\" . ::req(0)",
        '--error_code' => 200,
        '--response_headers' => "X-LLM-Provider: good\nX-LLM-Attempts: 2\n"
            . "X-Fb: 2|$reason",
        '--response_body eval' => '$::Good',
        '--grep_error_log eval' => 'qr/\[(?:error|warn)\].*/',
        '--grep_error_log_out eval' => "[qr/\\A[^\\n]*\\n\\z/]");

    for my $fb (0, 1) {
        my $fbname = $fb ? 'fallback' : 'no fallback';

        if ($st eq 'fb') {
            if ($fb) {
                $spec .= block(name => "$fault, stream, fallback: served",
                    fault => $fault, fb => 1,
                    '--request eval' =>
                        "\"POST /v1/chat/completions\\n\" . ::req(1)",
                    '--error_code' => 200,
                    '--response_headers' => "X-LLM-Provider: good\n"
                        . "X-LLM-Attempts: 2\nX-Fb: 2|$reason\n"
                        . "Content-Type: text/event-stream",
                    '--response_body eval' => '$::GoodStream',
                    '--grep_error_log eval' => 'qr/\[(?:error|warn)\].*/',
                    '--grep_error_log_out eval' => "[qr/\\A[^\\n]*\\n\\z/]");
            } else {
                $spec .= block(name => "$fault, stream, no fallback: $status",
                    fault => $fault,
                    '--request eval' =>
                        "\"POST /v1/chat/completions\\n\" . ::req(1)",
                    '--error_code' => $status,
                    '--response_headers' => "X-Fb: 1|",
                    '--response_body_like eval' => '$::ErrJson',
                    '--grep_error_log eval' => 'qr/\[(?:error|warn)\].*/',
                    '--grep_error_log_out eval' => "[qr/\\A[^\\n]*$log"
                                                   . "[^\\n]*\\n\\z/]");
            }
            next;
        }

        # a failure before the first event: the header waited for it
        if ($st eq 'after' && $fb) {
            $spec .= block(name => "$fault, stream, fallback: served",
                fault => $fault, fb => 1,
                '--request eval' =>
                    "\"POST /v1/chat/completions\\n\" . ::req(1)",
                '--error_code' => 200,
                '--response_headers' => "X-LLM-Provider: good\n"
                    . "X-LLM-Attempts: 2\nX-Fb: 2|$reason",
                '--response_body eval' => '$::GoodStream',
                '--grep_error_log eval' => 'qr/\[(?:error|warn)\].*/',
                '--grep_error_log_out eval' => "[qr/\\A[^\\n]*\\n\\z/]");
            next;
        }

        # after the first byte: no fallback, one error event at the end
        my $pre = $st eq 'after-first' ? '\Q$::First\E' : '';
        $spec .= block(name => "$fault, stream, $fbname: error event",
            fault => $fault, fb => $fb,
            '--request eval' => "\"POST /v1/chat/completions\\n\" . ::req(1)",
            '--error_code' => 200,
            '--response_headers' => "X-LLM-Provider: bad\nX-Fb: 1|",
            '--response_body_like eval' => "qr/\\A$pre(?!.*\\[DONE\\])"
                                           . "(?!.*fall)\$::ErrEvent/s",
            '--grep_error_log eval' => 'qr/\[(?:error|warn)\].*/',
            '--grep_error_log_out eval' => "[qr/\\A[^\\n]*\\n\\z/]");
    }
}

# spend cap, 400: never retried on the same provider

Test::Base::spec_string($spec . <<'_EOS_');
=== TEST: quota (a spend cap), fallback to the same provider: not retried
--- http_config
    llm_route m bad:gpt-4o fallback=bad:gpt-4o-mini fallback=good;
    llm_provider bad type=openai host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/quota;
--- request eval
"POST /v1/chat/completions\n" . ::req(0)
--- error_code: 200
--- response_headers
X-LLM-Provider: good
X-LLM-Attempts: 2
X-Fb: 2|429 from bad
--- response_body eval
$::Good



=== TEST: quota, no other provider: the 429 is the answer, once
--- http_config
    llm_route m bad:gpt-4o fallback=bad:gpt-4o-mini;
    llm_provider bad type=openai host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/quota;
--- request eval
"POST /v1/chat/completions\n" . ::req(0)
--- error_code: 429
--- response_headers
X-LLM-Provider: bad
X-LLM-Attempts: 1
X-Fb: 1|
--- response_body_like: "code":"insufficient_quota"



=== TEST: Anthropic provider, its stream begins with an overloaded error
event; with a fallback: served by the fallback
--- http_config
    llm_route m ant:claude-x fallback=good:gpt-4o-mini;
    llm_provider ant type=anthropic host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/antovl;
--- request eval
"POST /v1/chat/completions\n" . ::req(1)
--- error_code: 200
--- response_headers
X-LLM-Provider: good
X-Fb: 2|invalid response from ant
--- response_body_like eval
qr/\A(?!.*error)(?!.*\[DONE\].*\[DONE\])(?=.*"fall".*"back")(?:data: \{[^\n]*\n\n)+data: \[DONE\]\n\n\z/s
--- grep_error_log eval
qr/\[(?:error|warn)\].*/
--- grep_error_log_out eval
[qr/\A[^\n]*began its stream with an error[^\n]*\n\z/]



=== TEST: ... without a fallback: the OpenAI client gets the error event
in its format
--- http_config
    llm_route m ant:claude-x;
    llm_provider ant type=anthropic host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/antovl;
--- request eval
"POST /v1/chat/completions\n" . ::req(1)
--- error_code: 200
--- response_headers
X-LLM-Provider: ant
--- response_body_like eval
qr/\A(?!.*\[DONE\])(?:data: \{"id"[^\n]*\n\n)*data: \{"error":\{"message":"Overloaded","type":"overloaded_error"[^\n]*\}\}\n\n\z/s



=== TEST: an Anthropic client: a stream reset after its first event ends
with an Anthropic error event
--- http_config
    llm_route m bad:gpt-4o fallback=good:gpt-4o-mini;
    llm_provider bad type=openai host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/rst1;
--- request eval
"POST /v1/messages\n" . '{"model":"m","max_tokens":10,"stream":true,'
. '"messages":[{"role":"user","content":"hi"}]}'
--- error_code: 200
--- response_headers
X-LLM-Provider: bad
X-LLM-Attempts: 1
--- response_body_like eval
qr/\Aevent: message_start\n.*"Hel".*event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"The model provider's stream failed before it was complete\."\}\}\n\n\z/s



=== TEST: an Anthropic client, no answer within the timeout, no fallback:
504 in the Anthropic format
--- http_config
    llm_route m bad:gpt-4o;
    llm_provider bad type=openai host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/stall0;
--- request eval
"POST /v1/messages\n" . '{"model":"m","max_tokens":10,'
. '"messages":[{"role":"user","content":"hi"}]}'
--- error_code: 504
--- response_body_like eval
qr/\A\{"type":"error","error":\{"type":"[a-z_]+","message":"[^"]+"\}\}\n?\z/



=== TEST: a Gemini client: a stream reset after its first event ends with
a google.rpc.Status error, no fallback
--- http_config
    llm_route m bad:gpt-4o fallback=good:gpt-4o-mini;
    llm_provider bad type=openai host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/rst1;
--- config
    location /v1beta/ {
        llm_pass;
    }
--- request eval
"POST /v1beta/models/m:streamGenerateContent?alt=sse\n"
. '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'
--- error_code: 200
--- response_headers
X-LLM-Provider: bad
X-LLM-Attempts: 1
--- response_body_like eval
qr/\Adata: \{"candidates":[^\n]*"Hel"[^\n]*\r?\n\r?\n(?!.*"candidates")data: \{"error":\{"code":\d+,"message":"[^"]+","status":"[A-Z_]+"\}\}\r?\n\r?\n\z/s



=== TEST: a Responses client: a stream whose first event is an error
(no fallback) ends with a failed response, not a completed one
--- http_config
    llm_route m bad:gpt-4o;
    llm_provider bad type=openai host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/inband;
--- request eval
"POST /v1/responses\n" . '{"model":"m","input":"hi","stream":true}'
--- error_code: 200
--- response_body_like eval
qr/\A(?!.*response\.completed).*(?:response\.failed|"type":"error")[^\n]*\n\n\z/s
--- grep_error_log eval
qr/\[(?:error|warn)\].*/
--- grep_error_log_out eval
[qr/\A[^\n]*sent an error in the stream[^\n]*\n\z/]



=== TEST: 400 with a fallback: not retried
--- http_config
    llm_route m bad:gpt-4o fallback=good;
    llm_provider bad type=openai host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/s400;
--- request eval
"POST /v1/chat/completions\n" . ::req(1)
--- error_code: 400
--- response_headers
X-LLM-Provider: bad
X-LLM-Attempts: 1
--- response_body_like eval
$::ErrJson
_EOS_

no_shuffle();
repeat_each(1);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $block->http_config . <<'_EOC_');
    llm_provider good type=openai host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/good;
_EOC_

    $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    location /v1/ {
        llm_pass;
        llm_read_timeout 300ms;
        add_header X-Fb "$llm_attempts|$llm_fallback_reason" always;
    }
_EOC_

    $block->set_value('timeout', 3) unless defined $block->timeout;
    $block->set_value('no_error_log', "[alert]\n[crit]\n[emerg]")
        unless defined $block->no_error_log;
});

env_to_nginx('TEST_NGINX_FAULT_PORT');

run_tests();
