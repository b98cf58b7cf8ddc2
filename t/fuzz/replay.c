
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * A main() for the fuzz targets without libFuzzer: every file named on
 * the command line is one input (t/095-fuzz-regress.t runs t/fuzz/regress
 * through it in "make test").  Prints "ok NAME" per input; an oracle
 * failure aborts.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
main(int argc, char **argv)
{
    int     i;
    long    n;
    FILE   *f;
    char   *p;

    for (i = 1; i < argc; i++) {
        f = fopen(argv[i], "rb");
        if (f == NULL) {
            perror(argv[i]);
            return 2;
        }

        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fseek(f, 0, SEEK_SET);

        p = malloc(n ? n : 1);

        if (p == NULL || fread(p, 1, n, f) != (size_t) n) {
            fprintf(stderr, "%s: cannot read\n", argv[i]);
            return 2;
        }

        fclose(f);

        LLVMFuzzerTestOneInput((const uint8_t *) p, n);

        free(p);

        printf("ok %s\n", argv[i]);
    }

    return 0;
}
