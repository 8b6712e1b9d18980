/*
 * Which engine lmcache4j_open opens: a server's (client mode) or one in this process. The key
 * lmcache4j.server in the caller's settings overlay decides first (an empty value, null or none
 * means "no server", even when the environment names one); then LMCACHE4J_SERVER; then the key in
 * the configuration file (config_path, else LMCACHE_CONFIG_FILE). Only the key is read here, by a
 * small scan that finds it in YAML or JSON, at any depth (extra_config included): parsing the rest
 * of the configuration is the engine's business, in the server.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

#define SERVER_KEY "lmcache4j.server"
#define UNIX_SCHEME "unix://"
#define MAX_CONFIG_BYTES (16u << 20)

/* The value of SERVER_KEY in text (malloc'd, maybe ""), or NULL when the key is absent. */
static char *scan_key(const char *text) {
    size_t key_length = strlen(SERVER_KEY);
    for (const char *at = strstr(text, SERVER_KEY); at; at = strstr(at + 1, SERVER_KEY)) {
        char before = at == text ? '\n' : at[-1];
        if (!(isspace((unsigned char)before) || before == '"' || before == '\'' || before == '{' || before == ',')) {
            continue;
        }
        const char *p = at + key_length;
        if ((*p == '"' || *p == '\'') && *p == before) p++;
        while (*p == ' ' || *p == '\t') p++;
        if (*p != ':') continue;
        p++;
        while (*p == ' ' || *p == '\t') p++;
        const char *end;
        if (*p == '"' || *p == '\'') {
            end = strchr(p + 1, *p);
            if (!end) continue;
            p++;
        } else {
            end = p;
            while (*end && !isspace((unsigned char)*end) && *end != ',' && *end != '}' && *end != '#') end++;
        }
        char *value = strndup(p, (size_t)(end - p));
        return value ? value : strdup("");
    }
    return NULL;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL; /* the engine's own loading says what is wrong with it */
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    size_t bytes = size < 0 ? 0 : (size_t)size < MAX_CONFIG_BYTES ? (size_t)size : MAX_CONFIG_BYTES;
    char *text = size >= 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc(bytes + 1) : NULL;
    size_t n = text ? fread(text, 1, bytes, f) : 0;
    fclose(f);
    if (text) text[n] = '\0';
    return text;
}

static int means_none(const char *v) {
    return !*v || !strcasecmp(v, "null") || !strcmp(v, "~") || !strcasecmp(v, "none");
}

/* unix:///absolute/path -> the path; anything else is refused, naming where it came from. */
static int to_path(char *value, const char *source, char **path) {
    size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
    const char *p = value + strlen(UNIX_SCHEME);
    int rc = 1;
    if (strncmp(value, UNIX_SCHEME, strlen(UNIX_SCHEME)) != 0 || p[0] != '/') {
        rc = -lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "%s is '%s': write the server's socket as unix:///absolute/path",
                       source, value);
    } else if (strlen(p) > max) {
        rc = -lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "%s is '%s': a Unix socket path has at most %zu bytes",
                       source, value, max);
    } else {
        *path = strdup(p);
        if (!*path) rc = -lmc_fail(LMCACHE4J_ERR_NO_MEMORY, "out of memory reading %s", source);
    }
    free(value);
    return rc;
}

int lmc_client_selected(const char *config_path, const char *settings, char **path) {
    *path = NULL;
    char *value = settings ? scan_key(settings) : NULL;
    if (value) {
        if (means_none(value)) {
            free(value);
            return 0;
        }
        return to_path(value, "the settings' " SERVER_KEY, path);
    }
    const char *env = getenv("LMCACHE4J_SERVER");
    if (env && *env) {
        value = strdup(env);
        if (!value) return -lmc_fail(LMCACHE4J_ERR_NO_MEMORY, "out of memory reading LMCACHE4J_SERVER");
        return to_path(value, "LMCACHE4J_SERVER", path);
    }
    const char *file = config_path && *config_path ? config_path : getenv("LMCACHE_CONFIG_FILE");
    char *text = file && *file ? read_file(file) : NULL;
    value = text ? scan_key(text) : NULL;
    free(text);
    if (!value) return 0;
    if (means_none(value)) {
        free(value);
        return 0;
    }
    char source[512];
    snprintf(source, sizeof source, "%s in %s", SERVER_KEY, file);
    return to_path(value, source, path);
}
