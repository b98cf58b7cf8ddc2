# The OpenAI chat format through the canonical model, with the module's
# own functions outside nginx (t/unit/openai_roundtrip.c, built by "make
# unit"):
#
#   - every recorded OpenAI-format chat request in t/fixtures is parsed
#     into the canonical request and written back as the body the adapter
#     sends in translate mode; written twice, it must be the same bytes,
#     and it must mean what the original meant (fields the translation
#     does not carry are listed below and left out of the comparison);
#   - every recorded chat.completion.chunk stream goes through the
#     adapter's chunk parser (canonical deltas) and the surface's chunk
#     writer: the text, reasoning, tool calls, finish reason and usage a
#     client reassembles must be the original's, and the stream well
#     formed (one id, role first, one finish, usage, [DONE] last);
#   - every recorded chat.completion goes through the adapter's parser
#     and the surface's writer, with the same check.

use strict;
use warnings;

use Test::More;
use File::Find;
use JSON::PP;

my $bin = ($ENV{LLM_UNIT_DIR} || 'build/unit') . '/openai_roundtrip';

plan skip_all => "$bin is not built (make unit)" unless -x $bin;

my $json = JSON::PP->new->canonical->allow_nonref;

my (@requests, @streams, @responses);

find({ no_chdir => 1, wanted => sub {
    my $f = $File::Find::name;

    if ($f =~ /\.request\.json$/) {
        push @requests, $f if is_chat_request($f);

    } elsif ($f =~ /\.response\.json$/) {
        push @responses, $f if is_chat_object($f, 'chat.completion');

    } elsif ($f =~ /\.(sse|chunks\.txt)$/) {
        push @streams, $f if is_chat_stream($f);
    }
} }, 't/fixtures');

@requests = sort @requests;
@streams = sort @streams;
@responses = sort @responses;

# ---------------------------------------------------------------------------

sub slurp {
    my ($f) = @_;
    open my $fh, '<:raw', $f or die "$f: $!";
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

sub decode {
    my ($s) = @_;
    my $v = eval { $json->decode($s) };
    return $v;
}

# an OpenAI chat request: "messages" with OpenAI roles, not Anthropic's
# or Gemini's shape
sub is_chat_request {
    my ($f) = @_;
    my $r = decode(slurp($f));

    return 0 unless ref $r eq 'HASH' && ref $r->{messages} eq 'ARRAY';
    return 0 if exists $r->{system} || exists $r->{max_tokens}
                && !exists $r->{model};
    return 0 if exists $r->{anthropic_version};

    for my $m (@{ $r->{messages} }) {
        return 0 unless ref $m eq 'HASH';
        return 0 if ref $m->{content} eq 'ARRAY'
                    && grep { ref $_ eq 'HASH' && ($_->{type} // '')
                              =~ /^(tool_use|tool_result|image|document)$/ }
                            @{ $m->{content} };
    }

    return 1;
}

sub is_chat_object {
    my ($f, $object) = @_;
    my $r = decode(slurp($f));
    return ref $r eq 'HASH' && ($r->{object} // '') eq $object;
}

sub events {
    my ($f) = @_;
    my $s = slurp($f);
    my @ev;

    if ($f =~ /\.chunks\.txt$/) {
        @ev = grep { length } split /\r?\n/, $s;

    } else {
        $s =~ s/\r\n?/\n/g;

        for my $block (split /\n\n+/, $s) {
            my @data = map { /^data: ?(.*)$/ ? $1 : () } split /\n/, $block;
            push @ev, join("\n", @data) if @data;
        }
    }

    return @ev;
}

sub is_chat_stream {
    my ($f) = @_;

    for my $e (events($f)) {
        my $c = decode($e);
        next unless ref $c eq 'HASH';
        return ($c->{object} // '') eq 'chat.completion.chunk';
    }

    return 0;
}

sub run_bin {
    my @args = @_;

    open my $fh, '-|', $bin, @args or die "$bin: $!";
    binmode $fh;
    local $/;
    my $out = <$fh> // '';
    close $fh;
    my $rc = $? >> 8;

    my %res;

    while ($out =~ /\G=== (\w+) (\S+) (\d+)\n/gc) {
        my ($kind, $file, $len) = ($1, $2, $3);
        my $body = substr($out, pos($out), $len);
        pos($out) = pos($out) + $len + 1;
        $res{$file} = [$kind, $body];
    }

    return ($rc, \%res);
}

# ---------------------------------------------------------------------------
# requests

# what the translation carries, and how: the rest is not compared
my %kept = map { $_ => 1 } qw(model messages tools tool_choice
    parallel_tool_calls max_tokens temperature top_p seed presence_penalty
    frequency_penalty n stop response_format reasoning_effort user stream);

sub text_of {
    my ($content, @types) = @_;
    my %t = map { $_ => 1 } @types;
    return join "\n", map { $_->{type} eq 'refusal' ? $_->{refusal}
                                                     : $_->{text} }
                      grep { $t{$_->{type}} } @$content;
}

sub norm_message {
    my ($m) = @_;
    my %n;

    my $role = $m->{role} eq 'developer' ? 'system'
             : $m->{role} eq 'function' ? 'tool' : $m->{role};
    my $c = $m->{content};

    $n{role} = $role;

    if ($role eq 'tool') {
        $n{tool_call_id} = $m->{tool_call_id} // $m->{name};
        $n{content} = ref $c eq 'ARRAY' ? text_of($c, 'text') : $c // '';
        return \%n;
    }

    $n{name} = $m->{name} if defined $m->{name};

    if ($role eq 'assistant') {
        my $text = ref $c eq 'ARRAY' ? text_of($c, 'text', 'refusal')
                 : $c // '';
        my $calls = $m->{tool_calls} || [];

        $n{content} = ($text eq '' && @$calls) ? undef : $text;

        my @r;
        push @r, $m->{reasoning_content} // $m->{reasoning}
            if defined($m->{reasoning_content} // $m->{reasoning})
               && length($m->{reasoning_content} // $m->{reasoning});
        push @r, map { my $t = $_->{thinking};
                       ref $t ? join('', map { $_->{text} } @$t) : $t }
                 grep { $_->{type} eq 'thinking' }
                 @{ ref $c eq 'ARRAY' ? $c : [] };
        $n{reasoning_content} = join "\n", @r if @r;

        if (@$calls) {
            $n{tool_calls} = [ map {
                { id => $_->{id}, type => 'function',
                  function => { name => $_->{function}{name},
                                arguments => length($_->{function}{arguments}
                                                    // '')
                                             ? $_->{function}{arguments}
                                             : '{}' } }
            } @$calls ];
        }

        return \%n;
    }

    if (ref $c eq 'ARRAY' && grep { $_->{type} ne 'text' } @$c) {
        $n{content} = [ map {
            my $p = $_;
            $p->{type} eq 'text' ? { type => 'text', text => $p->{text} }
            : $p->{type} eq 'image_url'
              ? { type => 'image_url',
                  image_url => { url => ref $p->{image_url}
                                        ? $p->{image_url}{url}
                                        : $p->{image_url} } }
            : $p->{type} eq 'input_audio'
              ? { type => 'input_audio',
                  input_audio => { data => $p->{input_audio}{data},
                                   format => $p->{input_audio}{format} } }
            : $p
        } @$c ];

    } else {
        $n{content} = ref $c eq 'ARRAY' ? text_of($c, 'text') : $c;
    }

    return \%n;
}

sub norm_request {
    my ($r) = @_;
    my %n;

    $r->{max_tokens} = delete $r->{max_completion_tokens}
        if defined $r->{max_completion_tokens};
    $r->{tools} //= [ map { { type => 'function', function => $_ } }
                      @{ delete $r->{functions} || [] } ];
    $r->{tool_choice} //= delete $r->{function_call};

    for my $k (sort keys %$r) {
        next unless $kept{$k} && defined $r->{$k};
        $n{$k} = $r->{$k};
    }

    $n{messages} = [ map { norm_message($_) } @{ $n{messages} } ];

    if (@{ $n{tools} || [] }) {
        $n{tools} = [ map {
            my $f = $_->{function};
            { type => 'function',
              function => {
                  name => $f->{name},
                  (length($f->{description} // '')
                   ? (description => $f->{description}) : ()),
                  parameters => $f->{parameters}
                                // { type => 'object', properties => {} } } }
        } @{ $n{tools} } ];

        $n{tool_choice} = 'required'
            if ($n{tool_choice} // '') eq 'any';

        $n{tool_choice} = { type => 'function',
                            function => { name => $n{tool_choice}{name}
                                          // $n{tool_choice}{function}{name}
                          } }
            if ref $n{tool_choice} eq 'HASH';

    } else {
        delete @n{qw(tools tool_choice parallel_tool_calls)};
    }

    $n{stop} = [ $n{stop} ] if defined $n{stop} && !ref $n{stop};
    delete $n{stop} if ref $n{stop} && !@{ $n{stop} };
    delete $n{stream} unless $n{stream};

    if (my $rf = $n{response_format}) {
        if ($rf->{type} eq 'text') {
            delete $n{response_format};

        } elsif ($rf->{type} eq 'json_schema') {
            my $s = $rf->{json_schema};
            $n{response_format} = { type => 'json_schema', json_schema => {
                name => $s->{name} // 'response',
                (defined $s->{schema} ? (schema => $s->{schema}) : ()),
                (defined $s->{strict} ? (strict => $s->{strict}) : ()) } };
        }
    }

    return \%n;
}

my ($rc, $res) = run_bin('request', @requests);

is($rc, 0, scalar(@requests) . ' chat requests: written twice, the same')
    or diag("see $bin request FILE");

my $declined = 0;

for my $f (@requests) {
    my $r = $res->{$f};

    if (!$r) {
        fail("$f: no result");
        next;
    }

    my ($kind, $body) = @$r;

    if ($kind eq 'DECLINED') {
        # only requests the real API refuses too (or that are not chat)
        like($f, qr/chat-bad-request|test_multiple_agent_tool_calls/,
             "$f: declined: $body");
        $declined++;
        next;
    }

    my $orig = decode(slurp($f));
    my $got = decode($body);

    ok($got, "$f: the written body is JSON") or next;

    is_deeply(norm_request($got), norm_request($orig),
              "$f: the same request")
        or diag($body);
}

ok(@requests - $declined >= 60,
   (@requests - $declined) . " requests translated");

# the dialects: OpenAI's max_completion_tokens, Mistral's short ids and no
# stream_options, Groq without names

{
    my $f = 't/fixtures/derived/pydantic-ai/test_openai/'
            . 'test_image_url_tool_response/1.request.json';

    my (undef, $r) = run_bin('request', '-f', 0x10, $f);
    my $b = decode($r->{$f}[1]);

    like($b->{messages}[1]{tool_calls}[0]{id}, qr/^[a-zA-Z0-9]{9}$/,
         'Mistral: a 9-character tool call id');
    is($b->{messages}[2]{tool_call_id}, $b->{messages}[1]{tool_calls}[0]{id},
       'Mistral: the same id in the tool result');

    $f = 't/fixtures/derived/envoyproxy-ai-gateway/chat-multimodal/'
         . '0.request.json';

    (undef, $r) = run_bin('request', '-f', 0x1, $f);
    $b = decode($r->{$f}[1]);

    is($b->{max_completion_tokens}, 100, 'OpenAI: max_completion_tokens');
    ok(!exists $b->{max_tokens}, 'OpenAI: no max_tokens');
}

# ---------------------------------------------------------------------------
# streams

my %finish = (stop => 'stop', length => 'length', tool_calls => 'tool_calls',
              content_filter => 'content_filter',
              function_call => 'tool_calls', model_length => 'length',
              max_tokens => 'length', tool_use => 'tool_calls');

# what a client makes of a stream of chunks
sub reassemble {
    my (@ev) = @_;
    my %a = (content => '', reasoning => '', calls => [], errors => 0);
    my %by;

    for my $e (@ev) {
        last if $e eq '[DONE]';

        my $c = decode($e);
        next unless ref $c eq 'HASH';

        if ($c->{error}) {
            $a{errors}++;
            next;
        }

        $a{usage} = { map { $_ => $c->{usage}{$_} }
                      qw(prompt_tokens completion_tokens) }
            if ref $c->{usage} eq 'HASH';

        my ($ch) = grep { ($_->{index} // 0) == 0 } @{ $c->{choices} || [] };
        next unless $ch;

        my $d = $ch->{delta} || {};

        $a{reasoning} .= $d->{reasoning_content} // $d->{reasoning} // '';

        if (ref $d->{content} eq 'ARRAY') {
            for my $p (@{ $d->{content} }) {
                if ($p->{type} eq 'text') {
                    $a{content} .= $p->{text};
                } elsif ($p->{type} eq 'thinking') {
                    $a{reasoning} .= join '', map { $_->{text} }
                                              @{ $p->{thinking} };
                }
            }

        } else {
            $a{content} .= $d->{content} // '';
        }

        $a{content} .= $d->{refusal} // '';

        my $pos = 0;

        for my $t (@{ $d->{tool_calls} || [] }) {
            my $key = defined $t->{index} ? "i$t->{index}"
                    : length($t->{id} // '') ? "id$t->{id}"
                    : @{ $a{calls} } ? $a{calls}[-1]{key} : "p$pos";
            $pos++;

            my $call = $by{$key};

            if (!$call) {
                $call = $by{$key} = { key => $key, id => $t->{id},
                                      name => $t->{function}{name},
                                      arguments => '' };
                push @{ $a{calls} }, $call;
            }

            $call->{arguments} .= $t->{function}{arguments} // '';
        }

        my $fr = $ch->{finish_reason};

        if (defined $fr && $fr ne '' && $fr ne 'null') {
            push @{ $a{finish} }, $finish{$fr} // 'stop';
        }
    }

    $a{finish} = $a{finish} ? $a{finish}[0] : undef;
    $a{finish} = 'tool_calls'
        if @{ $a{calls} } && ($a{finish} // 'stop') eq 'stop';
    delete $_->{key} for @{ $a{calls} };

    return \%a;
}

($rc, $res) = run_bin('stream', @streams);

is($rc, 0, scalar(@streams) . ' recorded chat streams translated');

for my $f (@streams) {
    my $r = $res->{$f};

    if (!$r || $r->[0] ne 'STREAM') {
        fail("$f: no stream");
        next;
    }

    my $out = $r->[1];

    like($out, qr/\A(data: [^\n]+\n\n)+\z/, "$f: events end in \\n\\n");

    my @ev = map { /^data: (.*)$/ ? $1 : () } split /\n\n/, $out;
    my @chunks = map { decode($_) } grep { $_ ne '[DONE]' } @ev;

    is($ev[-1], '[DONE]', "$f: [DONE] last");
    is(scalar(grep { $_ eq '[DONE]' } @ev), 1, "$f: one [DONE]");

    my %ids = map { ($_->{id} // '') . ' ' . ($_->{created} // '') . ' '
                    . ($_->{model} // '') => 1 } @chunks;
    is(scalar(keys %ids), 1, "$f: one id, created and model");

    is_deeply($chunks[0]{choices}[0]{delta},
              { role => 'assistant', content => '' }, "$f: role first");

    my @fin = grep { @{ $_->{choices} } && $_->{choices}[0]{finish_reason} }
              @chunks;
    is(scalar(@fin), 1, "$f: one finish chunk");

    my $orig = reassemble(events($f));
    my $got = reassemble(@ev);

    delete $orig->{usage} unless $orig->{usage};
    $orig->{finish} //= 'stop';

    # ids the provider left empty are made up
    for my $i (0 .. $#{ $orig->{calls} }) {
        $orig->{calls}[$i]{id} = $got->{calls}[$i]{id}
            if !length($orig->{calls}[$i]{id} // '')
               && $got->{calls}[$i];
    }

    is_deeply($got, $orig, "$f: the same answer") or diag($out);
}

ok(@streams >= 15, scalar(@streams) . ' streams');

# made-up streams for what the recordings do not show

{
    use File::Temp qw(tempdir);

    my $dir = tempdir(CLEANUP => 1);
    my $n = 0;

    my $c = sub {
        my ($delta, $finish, %o) = @_;
        return $json->encode({ id => 'x1', object => 'chat.completion.chunk',
            created => 1, model => 'm',
            choices => [ { index => 0, delta => $delta,
                           finish_reason => $finish } ], %o });
    };

    my %cases = (
        'error' => [ $c->({ role => 'assistant', content => 'Hel' }),
                     '{"error":{"message":"boom","type":"server_error"}}',
                     $c->({ content => 'lost' }), '[DONE]' ],
        'no-done' => [ $c->({ content => 'a' }), $c->({ content => 'b' }) ],
        'empty' => [ ],
        'garbage' => [ 'not json', $c->({ content => 'ok' }, 'stop'),
                       '[DONE]' ],
        'azure' => [ $json->encode({ id => '', object => 'chat.completion.chunk',
                       created => 0, model => '', choices => [],
                       prompt_filter_results => [] }),
                     $c->({ content => 'hi' }, 'stop'), '[DONE]' ],
        'parallel' => [
            $c->({ tool_calls => [ { index => 0, id => 'a', type => 'function',
                     function => { name => 'f', arguments => '' } } ] }),
            $c->({ tool_calls => [ { index => 1, id => 'b', type => 'function',
                     function => { name => 'g', arguments => '{"y"' } } ] }),
            $c->({ tool_calls => [ { index => 0,
                     function => { arguments => '{"x":1}' } } ] }),
            $c->({ tool_calls => [ { index => 1,
                     function => { arguments => ':2}' } } ] }),
            $c->({}, 'tool_calls'), $c->({}, 'tool_calls'),
            $json->encode({ id => 'x1', object => 'chat.completion.chunk',
                created => 1, model => 'm', choices => [],
                usage => { prompt_tokens => 3, completion_tokens => 4,
                           total_tokens => 7 } }),
            '[DONE]' ],
        'eos' => [ $c->({ content => 'x' }, 'eos'), '[DONE]' ],
        'model-length' => [ $c->({ content => 'x' }, 'model_length'),
                            '[DONE]' ],
    );

    my %file;

    for my $k (sort keys %cases) {
        my $f = "$dir/$k.chunks.txt";
        open my $fh, '>', $f or die "$f: $!";
        print $fh map { "$_\n" } @{ $cases{$k} };
        close $fh;
        $file{$k} = $f;
    }

    ($rc, $res) = run_bin('stream', map { $file{$_} } sort keys %file);

    is($rc, 0, 'made-up streams');

    my %out = map { $_ => $res->{$file{$_}}[1] // '' } keys %file;
    my %ev = map { my $k = $_;
                   $k => [ map { /^data: (.*)$/s ? $1 : () }
                           split /\n\n/, $out{$k} ] } keys %out;

    like($out{error}, qr/"content":"Hel".*\ndata: \{"error":\{"message":"boom","type":"server_error","param":null,"code":null\}\}\n\n\z/s,
         'an error: the error event last, no [DONE]');
    unlike($out{error}, qr/lost/, 'an error: nothing after it');

    is_deeply(reassemble(@{ $ev{'no-done'} }),
              { content => 'ab', reasoning => '', calls => [], errors => 0,
                finish => 'stop' },
              'no finish, no [DONE]: made up at the end of the body');
    is($ev{'no-done'}[-1], '[DONE]', 'no [DONE]: [DONE] at the end');

    is(scalar(@{ $ev{empty} }), 3, 'nothing at all: role, finish, [DONE]');
    like($ev{empty}[1], qr/"finish_reason":"stop"/, 'nothing at all: stop');

    is_deeply(reassemble(@{ $ev{garbage} })->{content}, 'ok',
              'an event that is not JSON is skipped');

    like($ev{azure}[0], qr/^\{"id":"x1",/,
         'Azure\'s prompt-filter chunk (no id, no choices) gives no event: '
         . 'the id comes from the next chunk');

    is_deeply(reassemble(@{ $ev{parallel} }),
              { content => '', reasoning => '', errors => 0,
                finish => 'tool_calls',
                usage => { prompt_tokens => 3, completion_tokens => 4 },
                calls => [ { id => 'a', name => 'f', arguments => '{"x":1}' },
                           { id => 'b', name => 'g', arguments => '{"y":2}' } ] },
              'parallel calls interleaved, finish twice');
    is(scalar(grep { /"finish_reason":"/ } @{ $ev{parallel} }), 1,
       'one finish chunk');

    like($out{eos}, qr/"finish_reason":"stop"/, 'eos is stop');
    like($out{'model-length'}, qr/"finish_reason":"length"/,
         'model_length is length');
}

# ---------------------------------------------------------------------------
# responses

sub answer {
    my ($r) = @_;
    my $m = $r->{choices}[0]{message} || {};
    my $c = $m->{content};
    my %a;

    if (ref $c eq 'ARRAY') {
        $a{content} = join '', map { $_->{text} }
                               grep { $_->{type} eq 'text' } @$c;
        $a{reasoning} = join '', map { map { $_->{text} } @{ $_->{thinking} } }
                                 grep { $_->{type} eq 'thinking' } @$c;
    } else {
        $a{content} = $c // '';
        $a{reasoning} = '';
    }

    $a{reasoning} ||= $m->{reasoning_content} // $m->{reasoning} // '';
    $a{refusal} = $m->{refusal};
    $a{calls} = [ map { { id => $_->{id}, name => $_->{function}{name},
                          arguments => length($_->{function}{arguments} // '')
                                       ? $_->{function}{arguments} : '{}' } }
                  @{ $m->{tool_calls} || [] } ];

    my $fr = $r->{choices}[0]{finish_reason} // 'stop';
    $a{finish} = $finish{$fr} // 'stop';
    $a{finish} = 'tool_calls' if @{ $a{calls} } && $a{finish} eq 'stop';

    $a{usage} = { map { $_ => $r->{usage}{$_} // 0 }
                  qw(prompt_tokens completion_tokens total_tokens) }
        if $r->{usage};
    $a{usage}{cached} = $r->{usage}{prompt_tokens_details}{cached_tokens} // 0
        if $r->{usage};

    $a{id} = $r->{id};

    return \%a;
}

($rc, $res) = run_bin('response', @responses);

is($rc, 0, scalar(@responses) . ' recorded chat.completion bodies');

for my $f (@responses) {
    my $r = $res->{$f};

    if (!$r || $r->[0] ne 'RESPONSE') {
        fail("$f: no response");
        next;
    }

    my $got = decode($r->[1]);

    ok($got, "$f: JSON") or next;

    is($got->{object}, 'chat.completion', "$f: a chat.completion");
    is($got->{model}, 'client-model', "$f: the model the client asked for");

    my $orig = answer(decode(slurp($f)));
    my $a = answer($got);

    for my $i (0 .. $#{ $orig->{calls} }) {
        $orig->{calls}[$i]{id} = $a->{calls}[$i]{id}
            if !length($orig->{calls}[$i]{id} // '') && $a->{calls}[$i];
    }

    is_deeply($a, $orig, "$f: the same answer") or diag($r->[1]);
}

ok(@responses >= 40, scalar(@responses) . ' responses');

done_testing();
