/* Reading the XML documents S3 answers with (errors, multipart upload IDs, listings) through
 * libxml2. Elements are matched by local name so any namespace (AWS's, radosgw's, none) works;
 * the parser never loads external entities or the network. */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

#include "storage/s3_impl.h"
#include "core/error.h"

static void quiet(void *ctx, const char *msg, ...)
{
    (void)ctx, (void)msg;
}

static xmlDocPtr parse(const char *xml, size_t len)
{
    if (len > (size_t)INT32_MAX) return NULL;
    /* Some libxml2 errors (bad encodings) bypass XML_PARSE_NOERROR and go to the generic
     * handler, which prints; the library never prints. The handler is per thread in libxml2,
     * so swapping it around the parse affects nobody else. */
    xmlGenericErrorFunc old = xmlGenericError;
    void *old_ctx = xmlGenericErrorContext;
    xmlSetGenericErrorFunc(NULL, quiet);
    xmlDocPtr doc =
        xmlReadMemory(xml, (int)len, "s3.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlSetGenericErrorFunc(old_ctx, old);
    return doc;
}

static int named(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr n = parent ? parent->children : NULL; n; n = n->next)
        if (named(n, name)) return n;
    return NULL;
}

/* Text of a child element into out (truncated to cap); "" if absent. */
static void child_text(xmlNodePtr parent, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    xmlNodePtr n = child(parent, name);
    if (!n || !cap) return;
    xmlChar *t = xmlNodeGetContent(n);
    if (!t) return;
    size_t len = strlen((const char *)t);
    if (len >= cap) len = cap - 1;
    memcpy(out, t, len);
    out[len] = '\0';
    xmlFree(t);
}

int vs_s3_xml_error(const char *xml, size_t len, char *code, size_t code_cap, char *msg, size_t msg_cap)
{
    code[0] = msg[0] = '\0';
    xmlDocPtr doc = parse(xml, len);
    if (!doc) return VS_ERR_CORRUPT;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (root && named(root, "Error")) {
        child_text(root, "Code", code, code_cap);
        child_text(root, "Message", msg, msg_cap);
    }
    xmlFreeDoc(doc);
    return VS_OK;
}

int vs_s3_xml_text(const char *xml, size_t len, const char *element, char *out, size_t cap)
{
    out[0] = '\0';
    xmlDocPtr doc = parse(xml, len);
    if (!doc) return vs_fail(VS_ERR_CORRUPT, "s3: the answer is not XML");
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (root) child_text(root, element, out, cap);
    xmlFreeDoc(doc);
    if (!*out) return vs_fail(VS_ERR_CORRUPT, "s3: the answer has no <%s>", element);
    return VS_OK;
}

int vs_s3_xml_list(const char *xml, size_t len, vs_s3_list_cb fn, void *ctx, int *truncated, char *token,
                size_t token_cap)
{
    *truncated = 0;
    token[0] = '\0';
    xmlDocPtr doc = parse(xml, len);
    if (!doc) return vs_fail(VS_ERR_CORRUPT, "s3: the listing is not XML");
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root || !named(root, "ListBucketResult")) {
        xmlFreeDoc(doc);
        return vs_fail(VS_ERR_CORRUPT, "s3: the listing has no <ListBucketResult>");
    }
    char buf[64];
    child_text(root, "IsTruncated", buf, sizeof buf);
    *truncated = !strcmp(buf, "true");
    child_text(root, "NextContinuationToken", token, token_cap);
    if (*truncated && !*token) {
        xmlFreeDoc(doc);
        return vs_fail(VS_ERR_CORRUPT, "s3: a truncated listing without NextContinuationToken");
    }
    int rc = VS_OK;
    char key[1025], etag[130], size[32], modified[64];
    for (xmlNodePtr n = root->children; n && rc == VS_OK; n = n->next) {
        if (!named(n, "Contents")) continue;
        child_text(n, "Key", key, sizeof key);
        child_text(n, "ETag", etag, sizeof etag);
        child_text(n, "Size", size, sizeof size);
        child_text(n, "LastModified", modified, sizeof modified);
        char *end = NULL;
        unsigned long long sz = strtoull(size, &end, 10);
        if (!*key || !*size || *end) {
            rc = vs_fail(VS_ERR_CORRUPT, "s3: a listed object without a key or a valid size");
            break;
        }
        vs_s3_object o = {key, sz, etag, modified};
        rc = fn(&o, ctx);
    }
    xmlFreeDoc(doc);
    return rc;
}
