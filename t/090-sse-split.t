# Every recorded stream in t/fixtures goes through the SSE parser whole,
# one byte at a time and split at every offset (sampled past 4 KB; set
# LLM_SPLIT_FULL=1 for all of them), with LF, CRLF and CR line ends: the
# events must always be the same.  The harness is t/unit/sse_split.c,
# built by "make unit" (a dependency of "make test").

use strict;
use warnings;

use Test::More;
use File::Find;

my $bin = ($ENV{LLM_UNIT_DIR} || 'build/unit') . '/sse_split';

plan skip_all => "$bin is not built (make unit)" unless -x $bin;

my @files;

find(sub { push @files, $File::Find::name if /\.(sse|chunks\.txt)$/ },
     't/fixtures');

@files = sort @files;

plan tests => 2;

ok(@files >= 50, scalar(@files) . " recorded streams");

my $out = `$bin @files 2>&1`;
my $rc = $? >> 8;

is($rc, 0, 'every split gives the same events') or diag($out);
diag((split /\n/, $out)[-1]);
