/* Where the S3 client's settings come from: options, then the environment, then the shared
 * AWS files (~/.aws/credentials and ~/.aws/config), then defaults, as the AWS CLI does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/s3_impl.h"
#include "core/error.h"

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = '\0';
    return s;
}

/* Value of `key` in section `section` of an INI file (the shared AWS format); 1 if found. */
static int ini_get(const char *path, const char *section, const char *key, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[1024];
    int in_section = 0, found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char *s = trim(line);
        if (*s == '#' || *s == ';' || *s == '\0') continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (!end) continue;
            *end = '\0';
            in_section = !strcmp(trim(s + 1), section);
            continue;
        }
        if (!in_section) continue;
        char *eq = strchr(s, '=');
        if (!eq) continue;
        *eq = '\0';
        if (strcmp(trim(s), key)) continue;
        char *v = trim(eq + 1);
        if (strlen(v) < cap) {
            memcpy(out, v, strlen(v) + 1);
            found = 1;
        }
    }
    fclose(f);
    return found;
}

static void home_file(const char *env, const char *rel, char *out, size_t cap)
{
    const char *e = getenv(env);
    if (e && *e) {
        snprintf(out, cap, "%s", e);
        return;
    }
    const char *home = getenv("HOME");
    snprintf(out, cap, "%s/%s", home ? home : "", rel);
}

/* opts value, else the first set environment variable, else the profile's key in the file.
 * Returns a malloc'd copy or NULL. */
static char *pick(const char *opt, const char *env1, const char *env2, const char *file, const char *section,
                  const char *key)
{
    if (opt && *opt) return strdup(opt);
    const char *e = env1 ? getenv(env1) : NULL;
    if ((!e || !*e) && env2) e = getenv(env2);
    if (e && *e) return strdup(e);
    char v[1024];
    if (file && ini_get(file, section, key, v, sizeof v) && *v) return strdup(v);
    return NULL;
}

int vs_s3_config_resolve(const vs_s3_options *o, vs_s3 *s3)
{
    vs_s3_options none = {.struct_size = sizeof(vs_s3_options)};
    if (!o) o = &none;
    const char *profile = o->profile && *o->profile ? o->profile : getenv("AWS_PROFILE");
    if (!profile || !*profile) profile = "default";
    char creds[1024], config[1024], config_section[300];
    home_file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials", creds, sizeof creds);
    home_file("AWS_CONFIG_FILE", ".aws/config", config, sizeof config);
    /* The config file names non-default profiles "[profile NAME]". */
    if (!strcmp(profile, "default")) snprintf(config_section, sizeof config_section, "default");
    else snprintf(config_section, sizeof config_section, "profile %s", profile);

    s3->access_key = pick(o->access_key, "AWS_ACCESS_KEY_ID", NULL, creds, profile, "aws_access_key_id");
    s3->secret_key = pick(o->secret_key, "AWS_SECRET_ACCESS_KEY", NULL, creds, profile, "aws_secret_access_key");
    if (!s3->access_key)
        s3->access_key = pick(NULL, NULL, NULL, config, config_section, "aws_access_key_id");
    if (!s3->secret_key)
        s3->secret_key = pick(NULL, NULL, NULL, config, config_section, "aws_secret_access_key");
    /* A session token belongs to the key pair it came with: take it from the same place. */
    s3->session_token = pick(o->session_token, "AWS_SESSION_TOKEN", NULL, creds, profile, "aws_session_token");
    s3->region = pick(o->region, "AWS_REGION", "AWS_DEFAULT_REGION", config, config_section, "region");
    if (!s3->region) s3->region = strdup("us-east-1");
    char *endpoint = pick(o->endpoint, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", config, config_section,
                          "endpoint_url");
    int aws = 0;
    if (!endpoint) {
        char buf[300];
        snprintf(buf, sizeof buf, "https://s3.%s.amazonaws.com", s3->region ? s3->region : "us-east-1");
        endpoint = strdup(buf);
        aws = 1;
    }
    if (!s3->region || !endpoint) {
        free(endpoint);
        return vs_fail(VS_ERR_NOMEM, "s3: out of memory");
    }
    size_t n = strlen(endpoint);
    while (n && endpoint[n - 1] == '/') endpoint[--n] = '\0';
    s3->endpoint = endpoint;
    if (strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8))
        return vs_fail(VS_ERR_INVALID_ARG, "s3: endpoint '%s' must start with http:// or https://", endpoint);
    if (strchr(endpoint + 8, '/'))
        return vs_fail(VS_ERR_INVALID_ARG, "s3: endpoint '%s' must be scheme://host[:port] without a path",
                       endpoint);
    if (!aws && strstr(endpoint, ".amazonaws.com")) aws = 1;
    s3->path_style = o->path_style > 0 ? 1 : o->path_style < 0 ? 0 : !aws;

    if (!s3->access_key || !s3->secret_key)
        return vs_fail(VS_ERR_AUTH,
                       "s3: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add profile "
                       "'%s' to %s",
                       profile, creds);
    if (strlen(s3->region) > 100 || strchr(s3->region, ':'))
        return vs_fail(VS_ERR_INVALID_ARG, "s3: bad region '%s'", s3->region);
    snprintf(s3->sigv4, sizeof s3->sigv4, "aws:amz:%s:s3", s3->region);
    s3->timeout_ms = o->timeout_ms ? o->timeout_ms : 30000;
    s3->retries = o->retries == UINT32_MAX ? 0 : o->retries ? o->retries : 3;
    s3->list_page = o->list_page && o->list_page < 1000 ? o->list_page : 1000;
    s3->part_size = o->part_size ? o->part_size : 64ull << 20;
    if (s3->part_size < (5ull << 20))
        return vs_fail(VS_ERR_INVALID_ARG, "s3: part_size %llu is below S3's 5 MiB minimum",
                       (unsigned long long)s3->part_size);
    return VS_OK;
}
