/* Integration tests against the radosgw that the ctest fixture started (radosgw.sh): its
 * endpoint and keys are in the file named by VS_S3_ENV_FILE, loaded into the environment. */
#ifndef VS_TEST_S3_ENV_H
#define VS_TEST_S3_ENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Returns 0 when the environment is ready; prints why not otherwise. */
static int s3_env_load(void)
{
    const char *path = getenv("VS_S3_ENV_FILE");
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) {
        fprintf(stderr, "no radosgw: VS_S3_ENV_FILE (%s) unreadable\n", path ? path : "unset");
        return -1;
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = '\0';
        setenv(line, eq + 1, 1);
    }
    fclose(f);
    setenv("AWS_ENDPOINT_URL", getenv("S3_ENDPOINT"), 1);
    return 0;
}

#endif
