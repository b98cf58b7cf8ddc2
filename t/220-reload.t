# "nginx -s reload" (SIGHUP to the master): the llm zone is reused, so
# windows, budgets and in-flight reservations survive it; a changed keys
# file is read again; a zone whose size changed is refused with an
# [emerg] and the running configuration, counters included, stays.

use strict;
use warnings;

use Test::More;
use t::LLMServer;

my $s = t::LLMServer->new(workers => 2);

plan skip_all => 'module not built' if !$s->module_found;

sub body {
    my ($model) = @_;
    my $b = '{"model":"' . $model . '","max_tokens":75,"messages":'
            . '[{"role":"user","content":"';
    my $tail = '"}]}';
    return $b . ('x' x (100 - length($b) - length($tail))) . $tail;
}

my $Chat = body('gpt-4o');
my $Slow = body('slow');

my $reply = '{"id":"c","object":"chat.completion","choices":[{"index":0,'
    . '"message":{"role":"assistant","content":"ok"},"finish_reason":'
    . '"stop"}],"usage":{"prompt_tokens":25,"completion_tokens":75,'
    . '"total_tokens":100}}';

sub http {
    my ($zone) = @_;

    return <<"_EOC_";
    llm_zone llm:$zone;
    llm_provider mock type=openai upstream=127.0.0.1:__PORT__ base=/mock
                 key=none;
    llm_provider slow type=openai upstream=127.0.0.1:__PORT__ base=/slow
                 key=none;
    llm_route gpt-4o mock;
    llm_route slow slow;
    llm_keys __ROOT__/conf/keys;

    server {
        listen 127.0.0.1:__PORT__;

        location /v1/ {
            llm_pass;
        }

        location = /mock/chat/completions {
            default_type application/json;
            return 200 '$reply';
        }

        location = /slow/chat/completions {
            default_type application/json;
            echo_sleep 1;
            echo '$reply';
        }
    }
_EOC_
}

my $keys = <<'_EOC_';
key=sk-reload-a-CANARY-000000000000000 name=a rpm=20 budget_tokens=1000/day
key=sk-reload-b-CANARY-000000000000000 name=b
key=sk-reload-d-CANARY-000000000000000 name=d budget_tokens=100
_EOC_

$s->start(http('1m'), 'conf/keys' => $keys);

sub as {
    my ($key, $body) = @_;
    return $s->request(POST => '/v1/chat/completions', $body // $Chat,
                       "x-api-key: sk-reload-$key-CANARY-000000000000000");
}

my @r = map { as('a') } 1 .. 4;

is_deeply([ map { $_->{status} } @r ], [200, 200, 200, 200],
          'key a: 4 requests before the reload');
is($r[3]{headers}{'x-ratelimit-remaining-requests'}, 16,
   'key a: 16 requests left in the window');
is(as('b')->{status}, 200, 'key b works');
is(as('c')->{status}, 401, 'key c is not known yet');

# an in-flight reservation: key d has room for exactly one request

my $inflight = $s->begin(t::LLMServer::raw(POST => '/v1/chat/completions',
                                           $Slow,
                                           'x-api-key: sk-reload-d-'
                                           . 'CANARY-000000000000000'));
select undef, undef, undef, 0.3;

# the keys file changes: c is added, b revoked

$s->write_file('conf/keys', $keys
               . "key=sk-reload-c-CANARY-000000000000000 name=c\n");
$s->write_file('conf/keys', $s->read_file('conf/keys')
               =~ s/(name=b)/$1 revoked/r);

is($s->reload, 1, 'reload: new workers');

is(as('d')->{status}, 429,
   'key d: the reservation of the request in flight in the old worker '
   . 'holds after the reload');

is($s->finish($inflight)->{status}, 200,
   'the request in flight during the reload completes');

@r = map { as('a') } 1 .. 7;

is($r[0]{headers}{'x-ratelimit-remaining-requests'}, 15,
   'key a: the window survived the reload');
is_deeply([ map { $_->{status} } @r ], [200, 200, 200, 200, 200, 200, 429],
          'key a: the daily budget of 1000 tokens survived: 4 + 6 '
          . 'requests of 100');
is(as('b')->{status}, 401, 'key b is revoked by the new keys file');
is(as('c')->{status}, 200, 'key c is known now');

# a zone of another size would start from zero: refused

my $log = $s->error_log_size;

is($s->reload(http('2m')), 0, 'reload with another zone size: refused');
like($s->error_log_since($log),
     qr/\[emerg\] .*llm_zone "llm" cannot change its size from 1048576 to 2097152 on reload/,
     'the [emerg] says why');

is(as('a')->{status}, 429, 'the running configuration keeps its counters');
is(as('c')->{status}, 200, 'and its keys');

# the same size again: accepted, still the same counters

is($s->reload(http('1m')), 1, 'reload with the same size');
is(as('a')->{status}, 429, 'key a: budget still spent');

my $all = $s->error_log_since(0);

unlike($all, qr/\[(?:alert|crit)\]/, 'no alert or crit');
unlike($all, qr/exited on signal/, 'no worker crashed');
unlike($all, qr/sk-reload-/, 'no key in the error log');

$s->stop;

done_testing();
