# The client key compare is constant time: t/unit/key_timing.c (built by
# "make unit") times ngx_http_llm_keys_lookup() for the right key and for
# keys wrong in their first or their last byte, interleaved, and prints
# Welch's t of each pair (dudect).  |t| must stay below LLM_TIMING_T
# (default 10, dudect's "definitely not constant time" bound) in the
# median of 3 runs, so one run disturbed by a busy machine does not fail
# it; the control, a byte loop that stops at the first difference, must
# be seen leaking in the same runs, or the measurement is blind.
#
# With one key configured, every pair is judged.  With 64, a right key
# always takes the same path through the sorted digests and wrong keys
# take random ones (a difference of cache state, not of the secret), so
# only wrong keys are judged against each other there.

use strict;
use warnings;

use Test::More;

my $bin = ($ENV{LLM_UNIT_DIR} || 'build/unit') . '/key_timing';

plan skip_all => "$bin is not built (make unit)" unless -x $bin;

my $limit = $ENV{LLM_TIMING_T} || 10;

# { "lookup match-first" => [t, t, t], ... } over 3 runs
sub measure {
    my ($keys) = @_;
    my %t;

    for (1 .. 3) {
        my $out = `$bin 300000 $keys`;

        is($?, 0, "key_timing $keys: exit code");
        like($out, qr/^lookup ok$/m, "key_timing $keys: the lookup finds the key and only it");

        while ($out =~ /^(\w+ \w+-\w+) t=(-?[\d.]+|nan|-nan)/mg) {
            push @{ $t{$1} }, $2 =~ /nan/ ? 0 : abs $2;
        }
    }

    return \%t;
}

sub median {
    my @v = sort { $a <=> $b } @{ $_[0] // [] };
    return @v ? $v[$#v / 2] : undef;
}

my $one = measure(1);

for my $pair ('lookup match-first', 'lookup match-last', 'lookup first-last',
              'digest match-first', 'digest match-last', 'digest first-last')
{
    my $m = median($one->{$pair});

    ok(defined $m && $m < $limit,
       "1 key, $pair: median |t| " . ($m // 'none') . " < $limit"
       . " (runs: @{ $one->{$pair} // [] })");
}

my $c = median($one->{'control first-last'});

ok(defined $c && $c > $limit,
   "control (early-exit byte loop), first-last: median |t| "
   . ($c // 'none') . " > $limit: a leak is seen");

my $many = measure(64);

my $m = median($many->{'lookup first-last'});

ok(defined $m && $m < $limit,
   "64 keys, lookup first-last: median |t| " . ($m // 'none')
   . " < $limit (runs: @{ $many->{'lookup first-last'} // [] })");

note("64 keys, lookup match-first (path, not secret): "
     . "@{ $many->{'lookup match-first'} // [] }");

done_testing();
