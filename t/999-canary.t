# Last of the suite: the logs it left (every t/servroot*/logs/ file, and
# the file TEST_NGINX_ERROR_LOG names, where the compat runner appends
# every block's error log when it is set) hold no canary secret.  See
# t/LLMCanary.pm for what the suite searches where, and what this adds
# when the real Test::Nginx runs the block suites.

use strict;
use warnings;

use Test::More;
use t::LLMCanary;
use Digest::SHA ();
use File::Temp ();

my @dirs = grep { -d } glob('t/servroot*/logs');

push @dirs, $ENV{TEST_NGINX_SERVROOT} . '/logs'
    if $ENV{TEST_NGINX_SERVROOT} && -d $ENV{TEST_NGINX_SERVROOT} . '/logs';

my %seen;

for my $dir (grep { !$seen{$_}++ } @dirs) {
    my @hits = t::LLMCanary::scan_dir($dir);
    is("@hits", '', "no canary secret in $dir");
}

if (my $total = $ENV{TEST_NGINX_ERROR_LOG}) {
    SKIP: {
        skip "$total does not exist", 1 if !-f $total;

        (my $dir = $total) =~ s{/[^/]*$}{};
        $dir = '.' if $dir eq $total;

        open my $fh, '<', $total or die "$total: $!";
        local $/;
        my $text = <$fh>;
        close $fh;

        $text =~ s/^[^\n]*\[debug\] \d+#\d+: \*\d+ http header: "[^\n]*\n//mg;

        # blocks marked "--- canary_ok" stand under their "=== <name>"
        my @hits;

        for my $part (split /^(?==== )/m, $text) {
            next if $part =~ /^=== .*canary_ok/;
            my $hit = t::LLMCanary::find($part);
            push @hits, $hit if $hit;
        }

        is("@hits", '', "no canary secret in $total");
    }
}

ok(t::LLMCanary::find('x Bearer sk-anything-CANARY-1234 y'),
   'the search finds the marker');
ok(t::LLMCanary::find('key=...' . substr($t::LLMCanary::Key{openai}, 15, 16)),
   'the search finds a piece of a canary key without its marker');
ok(t::LLMCanary::find(Digest::SHA::sha256_hex($t::LLMCanary::Key{openai})),
   'the search finds the SHA-256 of a canary key');

{
    my $dir = File::Temp::tempdir(CLEANUP => 1);

    open my $fh, '>', "$dir/error.log" or die $!;
    print $fh "2026/01/01 00:00:00 [debug] 1#1: *1 http header: "
              . "\"Authorization: Bearer sk-x-CANARY-1\"\n";
    close $fh;

    is(join('', t::LLMCanary::scan_dir($dir)), '',
       "nginx's own request header debug lines are left out");

    open $fh, '>>', "$dir/error.log" or die $!;
    print $fh "2026/01/01 00:00:00 [info] 1#1: *1 llm: key sk-x-CANARY-1\n";
    close $fh;

    like(join('', t::LLMCanary::scan_dir($dir)), qr/^error\.log: the marker at line \d+$/,
         'any other line is searched');
}

done_testing();
