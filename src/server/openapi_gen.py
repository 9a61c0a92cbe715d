#!/usr/bin/env python3
"""Writes openapi.c (GET /openapi.json) from the description below. Run after changing a route:
   python3 src/server/openapi_gen.py > src/server/openapi.c"""
import json

def ref(n): return {"$ref": "#/components/schemas/" + n}
def body(schema): return {"required": True, "content": {"application/json": {"schema": schema}}}
def resp(desc, schema=None, ctype="application/json"):
    r = {"description": desc}
    if schema is not None: r["content"] = {ctype: {"schema": schema}}
    return r
ERR = {"400": resp("Bad request: malformed JSON, unknown field, unknown query parameter (unknown_parameter: only POST /save takes one), wrong dimension, NaN, limits", ref("Error")),
       "401": resp("Missing or wrong API key", ref("Error")),
       "404": resp("Unknown collection, document or route", ref("Error")),
       "405": resp("Method not allowed", ref("Error")),
       "413": resp("Body larger than --max-body", ref("Error")),
       "500": resp("Internal error", ref("Error"))}
def errs(*codes): return {c: ERR[c] for c in codes}

schemas = {
  "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
  "DocId": {"oneOf": [{"type": "integer", "minimum": 0, "maximum": 9007199254740991},
                       {"type": "string", "minLength": 1, "maxLength": 256}],
            "description": "A document id: an integer from 0 to 2^53-1, or a string of 1 to 256 bytes of UTF-8 "
                           "(no NUL). A string that spells an integer canonically (\"17\": digits, no sign, no leading "
                           "zero) IS that integer: \"17\" and 17 name one document, shown as 17. Other strings "
                           "(\"doc-17\", a UUID, \"017\") are string ids, shown as strings. Ids are unique across "
                           "both kinds; replies show every id as the client gave it. One rule for the server, "
                           "`vecscale build --input` and the C API (vecscale.h, \"Document ids\"). Invalid ids: "
                           "400 invalid_id with the reason; an id already present: 409 duplicate_id."},
  "Vector": {"type": "array", "items": {"type": "number"}, "description": "float32 components, one per dimension"},
  "Scalar": {"type": ["string", "number", "boolean"]},
  "Filter": {"type": "object", "description":
      "Metadata filter (vecscale.h, 'Payload indexes and metadata filters'). Every key must hold: "
      "\"and\": [Filter...], \"or\": [Filter...], \"not\": Filter, or a top-level metadata field mapped to a scalar "
      "(equality) or to operators {\"eq\": scalar, \"in\": [scalar...], \"gt\"|\"gte\"|\"lt\"|\"lte\": number, "
      "\"exists\": bool}. An array field matches when an element does; numbers compare as numbers. "
      "Unknown fields, operators and type mismatches are 400 invalid_filter. Fields without a payload index are "
      "evaluated per document (the reply's filter.indexed is false) and get an index built in the background.",
      "properties": {"and": {"type": "array", "items": ref("Filter")}, "or": {"type": "array", "items": ref("Filter")},
                     "not": ref("Filter")},
      "additionalProperties": {"oneOf": [ref("Scalar"), {"type": "object", "additionalProperties": False, "minProperties": 1,
          "properties": {"eq": ref("Scalar"), "in": {"type": "array", "items": ref("Scalar")}, "gt": {"type": "number"},
                         "gte": {"type": "number"}, "lt": {"type": "number"}, "lte": {"type": "number"},
                         "exists": {"type": "boolean"}}}]},
      "examples": [{"pos": "verb"}, {"year": {"gte": 1990, "lt": 2000}}, {"tag": {"in": ["a", "b"]}},
                   {"or": [{"pos": "verb"}, {"not": {"words": {"exists": True}}}]}]},
  "FilterReport": {"type": "object", "description": "present when the request had a filter: which path answered it",
      "required": ["indexed"], "properties": {"indexed": {"type": "boolean"},
      "allowed": {"type": "integer", "description": "documents passing (indexed path)"},
      "exact": {"type": "boolean", "description": "the allowed set was scanned exactly"},
      "unindexed": {"type": "string", "description": "fields evaluated per document (comma separated)"},
      "note": {"type": "string"}}},
  "SearchRequest": {"type": "object", "additionalProperties": False, "properties": {
      "query": {"type": "string", "description": "text, embedded with the collection's model"},
      "vector": ref("Vector"), "k": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10},
      "nprobe": {"type": "integer", "minimum": 0, "description": "IVF lists to visit"},
      "ef": {"type": "integer", "minimum": 0, "description": "HNSW candidate list size"},
      "filter": ref("Filter")}, "oneOf": [{"required": ["query"]}, {"required": ["vector"]}]},
  "Hit": {"type": "object", "required": ["id", "score", "text", "metadata"], "properties": {
      "id": ref("DocId"), "score": {"type": "number", "description": "squared L2 distance (l2) or similarity (ip, cosine)"},
      "text": {"type": ["string", "null"]}, "metadata": {"type": ["object", "null"]}}},
  "Warning": {"type": "object", "required": ["code", "message"], "description": "Present when the results are empty for a reason other than an empty collection or a filter nothing passes",
      "properties": {"code": {"type": "string", "enum": ["no_known_word"], "description": "no_known_word: the model knows none of the query's words, so the text has no meaning to search by (its embedding would be the model's fallback vector, whose neighbours mean nothing); results is empty"},
                     "message": {"type": "string"}}},
  "SearchResponse": {"type": "object", "required": ["query", "results", "latency_ms"], "properties": {
      "query": {"type": ["string", "null"]}, "results": {"type": "array", "items": ref("Hit")}, "warning": ref("Warning"), "filter": ref("FilterReport"),
      "latency_ms": {"type": "number"}}},
  "BatchSearchRequest": {"type": "object", "additionalProperties": False, "properties": {
      "queries": {"type": "array", "items": {"type": "string"}}, "vectors": {"type": "array", "items": ref("Vector")},
      "k": {"type": "integer"}, "nprobe": {"type": "integer"}, "ef": {"type": "integer"}, "filter": ref("Filter")}},
  "BatchSearchResponse": {"type": "object", "properties": {"results": {"type": "array", "items": {"type": "object", "properties": {
      "query": {"type": ["string", "null"]}, "results": {"type": "array", "items": ref("Hit")}, "warning": ref("Warning")}}}, "filter": ref("FilterReport"),
      "latency_ms": {"type": "number"}}},
  "Document": {"type": "object", "additionalProperties": False, "required": ["text"], "properties": {
      "id": ref("DocId"), "text": {"type": "string"}, "metadata": {"type": ["object", "null"]}}},
  "IndexRequest": {"description": "An object with texts or documents, or the seed's bare array of texts ([\"first text\", \"second text\"]), or a bare array of documents. A text with no word the model knows is a 400 empty_embedding unless skip_empty (object form only) leaves it out. Through a cluster router on the write log (route --nats) the object form also takes \"request_id\" (1 to 64 bytes, no white space): a retry with it within 10 minutes is stored once and gets the same ids; without it, a retried request of documents without ids may store them twice, under new ids.",
      "oneOf": [
        {"type": "object", "additionalProperties": False, "oneOf": [{"required": ["texts"]}, {"required": ["documents"]}], "properties": {
          "texts": {"type": "array", "minItems": 1, "items": {"type": "string"}}, "documents": {"type": "array", "minItems": 1, "items": ref("Document")},
          "skip_empty": {"type": "boolean", "description": "leave out texts with no word the model knows and list their positions in 'skipped' (else 400 empty_embedding)"},
          "dry_run": {"type": "boolean", "description": "check and embed everything, store nothing: 200 {\"valid\": true, \"would_add\", \"skipped\"} or the error the request would get (ids the collection holds are not checked); a cluster router asks a replica so before publishing to the write log"}}},
        {"type": "array", "minItems": 1, "items": {"type": "string"}, "description": "texts, automatic IDs"},
        {"type": "array", "minItems": 1, "items": ref("Document"), "description": "documents: every one with an id or none"}]},
  "VectorsRequest": {"type": "object", "additionalProperties": False, "required": ["vectors"], "properties": {
      "vectors": {"type": "array", "items": ref("Vector")}, "ids": {"type": "array", "items": ref("DocId")},
      "texts": {"type": "array", "items": {"type": ["string", "null"]}}, "metadata": {"type": "array", "items": {"type": ["object", "null"]}}}},
  "AddResponse": {"type": "object", "required": ["added", "total", "ids"], "properties": {
      "added": {"type": "integer"}, "total": {"type": "integer", "description": "documents in the collection after the add"},
      "ids": {"type": "array", "items": ref("DocId"), "description": "the added documents' IDs, in request order"},
      "skipped": {"type": "array", "items": {"type": "integer"}, "description": "with skip_empty: positions of the texts left out"}}},
  "DocumentResponse": {"type": "object", "properties": {"id": ref("DocId"), "text": {"type": ["string", "null"]},
      "metadata": {"type": ["object", "null"]}, "vector": ref("Vector")}},
  "Stats": {"type": "object", "required": ["total_vectors", "dimension", "index_type", "memory_mb"], "properties": {
      "name": {"type": "string"}, "total_vectors": {"type": "integer"}, "dimension": {"type": "integer"},
      "index_type": {"type": "string"}, "memory_mb": {"type": "number", "description": "measured heap of index and documents"},
      "metric": {"type": "string"}, "model": {"type": ["string", "null"]}, "model_loaded": {"type": "boolean"},
      "trained": {"type": "boolean"}, "snapshot_generation": {"type": "integer"}, "log_bytes": {"type": "integer"},
      "rss_mb": {"type": "number"}, "payload_indexes": {"type": "array", "items": {"type": "object", "properties": {
          "field": {"type": "string"}, "type": {"type": "string", "enum": ["keyword", "integer", "float", "bool"]},
          "ready": {"type": "boolean"}, "automatic": {"type": "boolean"}, "documents": {"type": "integer"},
          "values": {"type": "integer"}, "memory_mb": {"type": "number"}}}}}},
  "ExportName": {"type": "string", "pattern": "^(?!.*[.][.])[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$",
      "description": "Name of an export: DATA/exports/NAME/collections/<collection>/ receives hard links of the snapshot's files (collection.vsc and its index; not the log), a data directory that 'vecscale serve --data DATA/exports/NAME' serves and 'vecscale search --index DATA/exports/NAME/collections/<collection>' opens. Saving the same collection under the same NAME replaces its earlier export; other collections under NAME stay. Absolute paths, '..' and separators are refused (400 invalid_path)."},
  "CreateCollection": {"type": "object", "additionalProperties": False, "required": ["name"], "properties": {
      "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}, "dimension": {"type": "integer"},
      "metric": {"type": "string", "enum": ["l2", "ip", "cosine"]}, "model": {"type": "string"},
      "index": {"type": "string", "description": "FAISS factory string: Flat, IVF1024,Flat, HNSW32, ..."},
      "train_min": {"type": "integer", "description": "IVF: vectors before training (default 39 per list)"}}},
}

def coll_paths(prefix, tag):
    p = {}
    name = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}] if prefix else []
    def op(summary, rb=None, ok=None, codes=("400", "401", "404"), status="200", params=()):
        o = {"tags": [tag], "summary": summary, "responses": {status: ok, **errs(*codes)}}
        if rb: o["requestBody"] = body(rb)
        if name or params: o["parameters"] = name + list(params)
        return o
    p[prefix + "/search"] = {"post": op("k-NN search with a text query or a vector", ref("SearchRequest"), resp("Results", ref("SearchResponse")), ("400", "401", "404", "413"))}
    p[prefix + "/search/batch"] = {"post": op("Several searches in one request", ref("BatchSearchRequest"), resp("Results per query", ref("BatchSearchResponse")), ("400", "401", "404", "413"))}
    p[prefix + "/index"] = {"post": op("Embed and add texts or documents (durable before the reply)", ref("IndexRequest"), resp("Added", ref("AddResponse")), ("400", "401", "404", "413"))}
    p[prefix + "/vectors"] = {"post": op("Add raw vectors with optional IDs, texts and metadata (durable before the reply)", ref("VectorsRequest"), resp("Added", ref("AddResponse")), ("400", "401", "404", "413"))}
    idp = {"name": "id", "in": "path", "required": True, "schema": ref("DocId"),
           "description": "the id, percent-encoded (\"a/b c\" -> a%2Fb%20c; UTF-8 bytes as %XX)"}
    p[prefix + "/documents/{id}"] = {
        "get": op("A document with its vector", None, resp("The document", ref("DocumentResponse")), params=[idp]),
        "delete": op("Delete a document (durable before the reply)", None, resp("Deleted", {"type": "object", "properties": {"deleted": ref("DocId"), "total": {"type": "integer"}}}), params=[idp])}
    p[prefix + "/stats"] = {"get": op("Collection statistics", None, resp("Stats", ref("Stats")), ("401", "404"))}
    saved = {"type": "object", "properties": {"saved": {"type": "boolean"}, "total_vectors": {"type": "integer"}, "snapshot_generation": {"type": "integer"},
             "published": {"type": "object", "description": "With --snapshot-uri: the generation every collection's saved state was published as, or the store's error",
                           "properties": {"uri": {"type": "string"}, "generation": {"type": "integer"}, "files": {"type": "integer"}, "bytes": {"type": "integer"},
                                          "uploaded_bytes": {"type": "integer"}, "seconds": {"type": "number"}, "error": {"type": "string"}}},
             "error": {"type": "object", "description": "Only with HTTP 502: code publish_failed"}}}
    saved["properties"]["export"] = {"type": "object", "description": "With path: where the export is and how to open it",
        "properties": {"name": {"type": "string"}, "path": {"type": "string", "description": "absolute path of DATA/exports/NAME, a data directory"},
                       "collection": {"type": "string"}, "replaced": {"type": "boolean", "description": "an earlier export of this collection under NAME was replaced"},
                       "serve": {"type": "string", "description": "command that serves the export"}, "search": {"type": "string", "description": "command that opens the exported collection"}}}
    saved["properties"]["error"]["description"] = "Only with HTTP 502 (publish_failed) or 409 / 500 (export_failed: the snapshot stands, the export was not made)"
    pathp = {"name": "path", "in": "query", "required": False, "schema": ref("ExportName"),
             "description": "Also export the snapshot as DATA/exports/NAME (same rule as the body's path; give it in one place only)"}
    save = op("Write a snapshot and compact the log; with path, also export it inside the data directory; with --snapshot-uri, publish it", None, resp("Saved", saved), params=[pathp])
    save["requestBody"] = {"required": False, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": False,
        "properties": {"path": ref("ExportName")}}}}}
    save["responses"]["400"] = resp("Bad request: path absolute, with '..' or a separator, or outside the name rule (invalid_path, saying why); path in both query and body; unknown field or query parameter", ref("Error"))
    save["responses"]["409"] = resp("Saved (saved: true), but the export is open in another process (serve --data or search --index on it), so it was not replaced (error.code export_failed)", saved)
    save["responses"]["500"] = resp("Saved (saved: true), but the export failed (error.code export_failed)", saved)
    save["responses"]["502"] = resp("Saved locally (saved: true), but publishing to --snapshot-uri failed (published.error)", saved)
    p[prefix + "/save"] = {"post": save}
    return p

paths = {
  "/": {"get": {"tags": ["service"], "summary": "Search page", "responses": {"200": resp("HTML page", {"type": "string"}, "text/html")}}},
  "/health": {"get": {"tags": ["service"], "summary": "Liveness", "responses": {"200": resp("OK", {"type": "object"})}}},
  "/metrics": {"get": {"tags": ["service"], "summary": "Prometheus metrics", "responses": {"200": resp("Text format 0.0.4", {"type": "string"}, "text/plain"), **errs("401")}}},
  "/openapi.json": {"get": {"tags": ["service"], "summary": "This document", "responses": {"200": resp("OpenAPI 3.1", {"type": "object"})}}},
  "/collections": {
    "get": {"tags": ["collections"], "summary": "List collections", "responses": {"200": resp("Collections", {"type": "object", "properties": {"collections": {"type": "array", "items": ref("Stats")}}}), **errs("401")}},
    "post": {"tags": ["collections"], "summary": "Create a collection", "requestBody": body(ref("CreateCollection")),
             "responses": {"201": resp("Created", ref("Stats")), "409": resp("Exists", ref("Error")), **errs("400", "401")}}},
  "/collections/{name}": {
    "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
    "get": {"tags": ["collections"], "summary": "Collection statistics", "responses": {"200": resp("Stats", ref("Stats")), **errs("401", "404")}},
    "delete": {"tags": ["collections"], "summary": "Delete a collection and its files", "responses": {"200": resp("Deleted", {"type": "object"}), **errs("401", "404")}}},
}
paths.update(coll_paths("", "default collection"))
paths.update(coll_paths("/collections/{name}", "collections"))
doc = {"openapi": "3.1.0",
       "info": {"title": "vecscale", "version": "@VS_VERSION@", "description": "Vector search service. Routes without /collections/{name} act on the collection named 'default'. Send the API key as X-API-Key or Authorization: Bearer when the server has one. Options go in the JSON body: the only query-string parameter is POST /save's path; any other is refused (400 unknown_parameter), never ignored."},
       "components": {"schemas": schemas, "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}},
       "security": [{"apiKey": []}], "paths": paths}
s = json.dumps(doc, separators=(",", ":"))
print("/* GET /openapi.json, generated by openapi_gen.py (edit that, then regenerate). */")
print('#include "server/server_impl.h"\n')
print("const char vs_openapi_json[] =")
# The API's version is the library's (CMake's project version, via vecscale_version.h).
for k, part in enumerate(s.split("@VS_VERSION@")):
    if k:
        print("    VS_VERSION_STRING")
    for i in range(0, len(part), 100):
        print('    "' + part[i:i+100].replace("\\", "\\\\").replace('"', '\\"') + '"')
print(";")
