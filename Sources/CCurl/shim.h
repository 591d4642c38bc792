// libcurl (Debian: libcurl4-openssl-dev) with typed wrappers for its variadic calls,
// which Swift cannot call directly: one setter per argument kind, as
// swift-corelibs-foundation's _CFURLSessionInterface does.
#ifndef GRADSERVE_CCURL_SHIM_H
#define GRADSERVE_CCURL_SHIM_H

#include <curl/curl.h>

typedef size_t (*gs_curl_write_callback)(char *data, size_t size, size_t count, void *userdata);

static inline CURLcode gs_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode gs_easy_setopt_off(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode gs_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode gs_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode gs_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode gs_easy_setopt_write_callback(CURL *handle, CURLoption option, gs_curl_write_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode gs_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode gs_easy_getinfo_pointer(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode gs_easy_getinfo_off(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode gs_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

#endif
