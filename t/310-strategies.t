# Strategies of llm_route (strategy=): weighted (random, by weight),
# priority, least-busy (requests in flight per target, in the llm zone,
# across workers; counted when an attempt starts, no more when it moves to
# a fallback or the request ends, a client abort too), lowest-latency
# (EWMA of the time of answers per target; a target never measured gets
# one request first), cheapest (llm_price of each target's model).  A
# target cooling down (llm_cooldown) is passed over.  Without llm_zone,
# least-busy and lowest-latency fail "nginx -t".
#
# Two workers; mocks are locations of the same server (echo_sleep for
# slow ones); the target that answered is in X-LLM-Provider.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);
use t::LLMServer;

my $s = t::LLMServer->new(workers => 2);

plan skip_all => 'module not built' if !$s->module_found;

my $reply = '{"id":"c","object":"chat.completion","choices":[{"index":0,'
    . '"message":{"role":"assistant","content":"ok"},"finish_reason":'
    . '"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,'
    . '"total_tokens":6}}';

my $sse = 'data: {"id":"c","object":"chat.completion.chunk","choices":'
    . '[{"index":0,"delta":{"content":"ok"},"finish_reason":null}]}\n\n'
    . 'data: [DONE]\n';

sub chat_stream {
    my ($model) = @_;
    return t::LLMServer::raw(POST => '/v1/chat/completions',
                             '{"model":"' . $model . '","stream":true,'
                             . '"messages":[{"role":"user","content":"hi"}]}');
}

sub chat {
    my ($model) = @_;
    return t::LLMServer::raw(POST => '/v1/chat/completions',
                             '{"model":"' . $model . '","messages":'
                             . '[{"role":"user","content":"hi"}]}');
}

sub provider { $_[0]{headers}{'x-llm-provider'} // 'none' }

sub count {
    my %n;
    $n{ provider($_) }++ for @_;
    return \%n;
}

my $providers = '';

for my $p (qw(a b c fast slowA slowB slowC lat mid slowtok quicktok)) {
    $providers .= "    llm_provider $p type=openai upstream=127.0.0.1:__PORT__"
                  . " base=/$p key=none;\n";
}

my $mocks = <<"_EOC_";
        location ~ ^/(a|b|c|fast)/chat/completions\$ {
            default_type application/json;
            return 200 '$reply';
        }

        location ~ ^/slow[ABC]/chat/completions\$ {
            default_type application/json;
            echo_sleep 1;
            echo '$reply';
        }

        location = /lat/chat/completions {
            default_type application/json;
            echo_sleep 0.3;
            echo '$reply';
        }

        # streams: "slowtok" answers its header (and a comment) at once
        # and its first text 0.3 s later; "quicktok" all after 0.1 s

        location = /slowtok/chat/completions {
            default_type text/event-stream;
            echo ': ping';
            echo '';
            echo_flush;
            echo_sleep 0.3;
            echo '$sse';
        }

        location = /quicktok/chat/completions {
            default_type text/event-stream;
            echo_sleep 0.1;
            echo ': ping';
            echo '';
            echo '$sse';
        }

        location = /mid/chat/completions {
            default_type application/json;
            echo_sleep 0.1;
            echo '$reply';
        }
_EOC_

my $http = <<"_EOC_";
    llm_zone llm:1m;

$providers
    upstream dead { server 127.0.0.1:1; }
    llm_provider down type=openai upstream=dead key=none;

    llm_price m-pricey input=5 output=15;
    llm_price m-cheap  input=0.15 output=0.6;
    llm_price cx-free  input=0 output=0;

    llm_route w   a weight=3 b weight=1;
    llm_route p   strategy=priority b a;
    llm_route lb  strategy=least-busy slowA slowB;
    llm_route lbw strategy=least-busy slowA weight=1000 slowB;
    llm_route lbf strategy=least-busy down weight=1000 slowB
                  fallback=slowC;
    llm_route ll  strategy=lowest-latency lat fast;
    llm_route ll2 strategy=lowest-latency mid:m2 lat:m2;
    llm_route lls strategy=lowest-latency slowtok quicktok;
    llm_route ch  strategy=cheapest a:m-pricey b:m-cheap;
    llm_route chu strategy=cheapest a:m-unknown weight=1000 b:m-pricey;
    llm_route ~^cx- strategy=cheapest a b:m-cheap;

    server {
        listen 127.0.0.1:__PORT__;

        location /v1/ {
            llm_pass;
        }

$mocks
    }
_EOC_

$s->start($http);

# weighted: 3:1 over 800 requests, within 5 standard deviations
# (sd = sqrt(800 * 3/4 * 1/4) = 12.2)

my @r;

for (1 .. 20) {
    push @r, $s->send_all([ map { chat('w') } 1 .. 40 ]);
}

my $n = count(@r);

is(scalar(grep { $_->{status} == 200 } @r), 800, 'weighted: 800 answers');
cmp_ok(abs(($n->{a} // 0) - 600), '<=', 61,
       "weighted 3:1: a answered $n->{a} of 800 (600 expected)");
is(($n->{a} // 0) + ($n->{b} // 0), 800, 'weighted: only a and b');

# priority: always the first target

$n = count($s->send_all([ map { chat('p') } 1 .. 20 ]));
is($n->{b}, 20, 'priority: the first target written, 20 of 20');

# least-busy: requests 0.15 s apart while each takes 1 s: the second goes
# where the first is not, the fourth where the third is not

my @socks;

for (1 .. 4) {
    push @socks, $s->begin(chat('lb'));
    sleep 0.15;
}

@r = map { $s->finish($_) } @socks;

is(scalar(grep { $_->{status} == 200 } @r), 4, 'least-busy: 4 answers');
isnt(provider($r[1]), provider($r[0]),
     'least-busy: the 2nd request to the target without one in flight');
isnt(provider($r[3]), provider($r[2]),
     'least-busy: the 4th likewise');
$n = count(@r);
is_deeply($n, { slowA => 2, slowB => 2 }, 'least-busy: 2 and 2');

# 6 requests at once, 3 and 3: across workers, at most one off by a race
# between two workers' choices

@r = $s->send_all([ map { chat('lb') } 1 .. 6 ]);
$n = count(@r);
cmp_ok(abs(($n->{slowA} // 0) - 3), '<=', 1,
       "least-busy, 6 at once: slowA $n->{slowA}, slowB $n->{slowB}");

# the weight breaks ties: slowA; while it is busy, slowB

my $first = $s->begin(chat('lbw'));
sleep 0.2;
my $second = $s->request(POST => '/v1/chat/completions',
                         '{"model":"lbw","messages":[]}');
my $r1 = $s->finish($first);

is(provider($r1), 'slowA', 'least-busy: a tie goes by weight');
is(provider($second), 'slowB', 'least-busy: the busy target is avoided');

# ended requests are no longer in flight: slowA again

is(provider($s->request(POST => '/v1/chat/completions',
                        '{"model":"lbw","messages":[]}')),
   'slowA', 'least-busy: finished requests are not counted');

# a client that goes away is no longer in flight

$first = $s->begin(chat('lbw'));
sleep 0.2;
close $first;
sleep 0.3;

is(provider($s->request(POST => '/v1/chat/completions',
                        '{"model":"lbw","messages":[]}')),
   'slowA', 'least-busy: an aborted request is not counted');

# a fallback moves the count: "down" fails at once, slowC answers in 1 s;
# the next request finds "down" idle again, so goes there too (and on to
# slowC), not to slowB

$first = $s->begin(chat('lbf'));
sleep 0.3;
$second = $s->begin(chat('lbf'));

$r1 = $s->finish($first);
my $r2 = $s->finish($second);

is(provider($r1), 'slowC', 'least-busy with a fallback: the fallback');
is($r1->{headers}{'x-llm-attempts'}, 2, 'two attempts');
is(provider($r2), 'slowC',
   'least-busy: the failed target is not counted after the fallback');

# lowest-latency: "lat" (0.3 s) and "fast" are each measured once, in the
# order written, then "fast" takes every request

@r = map { ($s->send_all([ chat('ll') ]))[0] } 1 .. 12;

is(provider($r[0]), 'lat', 'lowest-latency: the first target is measured');
is(provider($r[1]), 'fast', 'lowest-latency: then the second');
is_deeply(count(@r[2 .. 11]), { fast => 10 },
          'lowest-latency: the fast target takes the next 10');

# 10 at once: the fast one still

is_deeply(count($s->send_all([ map { chat('ll') } 1 .. 10 ])),
          { fast => 10 }, 'lowest-latency: 10 at once, fast');

# the measures live in the zone: after a reload (new workers, the same
# zone) "fast" is still known as the faster, nothing is measured again

ok($s->reload($http), 'reload');

is_deeply(count(map { ($s->send_all([ chat('ll') ]))[0] } 1 .. 5),
          { fast => 5 }, 'lowest-latency: the measures survive a reload');

# a target not measured yet is not taken for the fastest while its first
# request is out: "mid" (0.1 s) is measured, then of 6 requests at once
# one measures "lat:m2", the other 5 go to "mid"

is(provider(($s->send_all([ chat('ll2') ]))[0]), 'mid',
   'lowest-latency: the first target measured');

is_deeply(count($s->send_all([ map { chat('ll2') } 1 .. 6 ])),
          { mid => 5, lat => 1 },
          'lowest-latency: one request measures the new target, '
          . 'the others go to the measured one');

# streams are ranked by the time to their first text ($llm_ttft), not to
# the header: "slowtok" has the earlier header, "quicktok" the earlier text

@r = map { ($s->send_all([ chat_stream('lls') ]))[0] } 1 .. 6;

is(provider($r[0]), 'slowtok', 'lowest-latency stream: first measured');
is(provider($r[1]), 'quicktok', 'lowest-latency stream: then the second');
is_deeply(count(@r[2 .. 5]), { quicktok => 4 },
          'lowest-latency stream: the earlier first text wins, '
          . 'not the earlier header');
like($r[2]{body}, qr/"content":"ok"/, 'lowest-latency stream: the text');

# cheapest: by llm_price of each target's model

is_deeply(count($s->send_all([ map { chat('ch') } 1 .. 10 ])),
          { b => 10 }, 'cheapest: the cheaper model, 10 of 10');

is_deeply(count($s->send_all([ map { chat('chu') } 1 .. 10 ])),
          { b => 10 }, 'cheapest: a model without a price goes last');

# a target without a model: the requested name's price (cx-free: 0)

is_deeply(count($s->send_all([ map { chat('cx-free') } 1 .. 10 ])),
          { a => 10 }, 'cheapest: priced by the requested name');

is_deeply(count($s->send_all([ map { chat('cx-other') } 1 .. 10 ])),
          { b => 10 }, 'cheapest: the requested name has no price');

my $log = $s->error_log_since(0);

unlike($log, qr/\[(alert|emerg)\]/, 'no alert');

# the configuration's warnings, as "nginx -t" shows them

$s->write_conf($http);
$log = `$s->{binary} -p ${\$s->root}/ -c conf/nginx.conf -t 2>&1`;

like($log, qr/\[warn\] .*no llm_price of "m-unknown": strategy=cheapest of llm_route "chu" tries it last in \S+nginx\.conf:\d+/,
     'a target without a price: warned at start');

# priority passes over a target cooling down

$s->start(<<"_EOC_");
    llm_zone llm:1m;
    llm_cooldown failures=1 window=10s period=30s;

$providers
    upstream dead { server 127.0.0.1:1; }
    llm_provider down type=openai upstream=dead key=none;

    llm_route pc strategy=priority down b fallback=c;

    server {
        listen 127.0.0.1:__PORT__;

        location /v1/ {
            llm_pass;
        }

$mocks
    }
_EOC_

my $r = ($s->send_all([ chat('pc') ]))[0];

is(provider($r), 'c', 'priority: the first target fails, the fallback');
is($r->{headers}{'x-llm-attempts'}, 2, 'two attempts');

$r = ($s->send_all([ chat('pc') ]))[0];

is(provider($r), 'b',
   'priority: the first target cools down, the second is chosen');
is($r->{headers}{'x-llm-attempts'}, 1, 'one attempt');

$s->stop;

# least-busy and lowest-latency need the zone

for my $st (qw(least-busy lowest-latency)) {
    eval {
        $s->start(<<"_EOC_");
$providers
    llm_route x strategy=$st a b;

    server {
        listen 127.0.0.1:__PORT__;
        location /v1/ { llm_pass; }
    }
_EOC_
    };

    like($@, qr/\[emerg\] \d+#\d+: strategy=$st of llm_route "x" requires "llm_zone" in \S+nginx\.conf:\d+/,
         "$st without llm_zone: nginx does not start");
}

done_testing();
