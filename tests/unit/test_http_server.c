/* The server side of src/http/ that the server and the router share: URL percent-decoding
 * (%00 must not cut an id short), the JSON error body both answer with, the body limit, the
 * routing lookup, the port file, and the metrics registry both render GET /metrics with. */
#include "test_util.h"

#include "http/http_metrics.h"
#include "http/http_server.h"

static void unescape_keeps_ids_whole(void **state)
{
    (void)state;
    char s[] = "/documents/a%00b%2Fc%zz%4";
    size_t n = vs_http_unescape(NULL, NULL, s);
    assert_int_equal(n, strlen("/documents/a?b/c%zz%4"));
    assert_int_equal((unsigned char)s[12], 0xFF); /* %00 is 0xFF: no id holds it, none is cut */
    assert_string_equal(s + 13, "b/c%zz%4");      /* malformed escapes stay as they are */
    char t[] = "k%3D%3d%41";
    assert_int_equal(vs_http_unescape(NULL, NULL, t), 4);
    assert_string_equal(t, "k==A");
}

static void error_body_is_json(void **state)
{
    (void)state;
    size_t len = 0;
    char *b = vs_http_error_body("bad \"x\"", "line\none\ttab \\ \x01 é", &len);
    assert_non_null(b);
    assert_string_equal(b, "{\"error\":{\"code\":\"bad \\\"x\\\"\",\"message\":\"line\\none\\ttab \\\\ \\u0001 é\"}}");
    assert_int_equal(len, strlen(b));
    free(b);
}

static void upload_stops_at_the_limit(void **state)
{
    (void)state;
    vs_http_upload u = {0};
    assert_int_equal(vs_http_upload_add(&u, "abc", 3, 5), 0);
    assert_int_equal(vs_http_upload_add(&u, "de", 2, 5), 0);
    assert_false(u.too_large);
    assert_string_equal(u.body.data, "abcde");
    assert_int_equal(vs_http_upload_add(&u, "f", 1, 5), 0); /* one byte over: dropped, marked */
    assert_true(u.too_large);
    assert_int_equal(u.body.len, 5);
    assert_int_equal(vs_http_upload_add(&u, "", 0, 5), 0);
    assert_true(u.too_large);
    vs_http_upload_free(&u);
    assert_null(u.body.data);
}

/* The routing lookup both programs use: exact and prefix rows, a method a path lacks (405 and
 * its Allow list, in row order), an unknown path (404). */
static void routes_are_found_by_path_then_method(void **state)
{
    (void)state;
    typedef struct {
        vs_http_route at;
        int id;
    } row;
    static const row table[] = {
        {{"/collections", 0, "GET"}, 1}, {{"/collections", 0, "POST"}, 2}, {{"/documents/", 1, "GET"}, 3},
        {{"/documents/", 1, "DELETE"}, 4}, {{"", 0, "GET"}, 5}, {{"/collections/", 0, "GET"}, 6},
    };
    const size_t n = sizeof table / sizeof table[0];
    const void *first;
    char allow[64];
    const row *r = vs_http_route_find(table, n, sizeof table[0], "POST", "/collections", &first, allow, sizeof allow);
    assert_non_null(r);
    assert_int_equal(r->id, 2);
    assert_ptr_equal(first, &table[0]);
    assert_string_equal(allow, "GET, POST");
    r = vs_http_route_find(table, n, sizeof table[0], "DELETE", "/documents/a/b", &first, allow, sizeof allow);
    assert_int_equal(r->id, 4);
    r = vs_http_route_find(table, n, sizeof table[0], "PUT", "/documents/x", &first, allow, sizeof allow);
    assert_null(r);
    assert_ptr_equal(first, &table[2]);
    assert_string_equal(allow, "GET, DELETE");
    r = vs_http_route_find(table, n, sizeof table[0], "GET", "", &first, allow, sizeof allow);
    assert_int_equal(r->id, 5);
    r = vs_http_route_find(table, n, sizeof table[0], "GET", "/collections/", &first, allow, sizeof allow);
    assert_int_equal(r->id, 6); /* not the exact "/collections" rows */
    r = vs_http_route_find(table, n, sizeof table[0], "GET", "/nothing", &first, allow, sizeof allow);
    assert_null(r);
    assert_null(first);
    assert_string_equal(allow, "");
}

static void port_file_is_written_whole(void **state)
{
    (void)state;
    char *dir = tu_tempdir(), path[1024], line[32] = "";
    snprintf(path, sizeof path, "%s/port", dir);
    assert_int_equal(vs_http_write_port_file(path, 40123), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, "40123\n");
    snprintf(path, sizeof path, "%s/no/such/dir/port", dir);
    assert_int_equal(vs_http_write_port_file(path, 1), -1);
    tu_rmdir(dir);
}

static const char *const ROUTES[] = {"search", "health", "other"};

/* The exposition of a registry after a few replies: counts by code, errors, a cumulative
 * histogram, in-flight, and out-of-range route ids counted as the last route. */
static void metrics_render_what_was_recorded(void **state)
{
    (void)state;
    vs_http_metrics *m = vs_http_metrics_create(ROUTES, 3);
    assert_non_null(m);
    vs_http_metrics_record(m, 0, 200, 0.0002);
    vs_http_metrics_record(m, 0, 200, 0.003);
    vs_http_metrics_record(m, 0, 404, 0.0001);
    vs_http_metrics_record(m, 1, 418, 7.0);
    vs_http_metrics_record(m, 99, 500, 0.2);
    vs_http_metrics_enter(m);
    vs_http_metrics_enter(m);
    vs_http_metrics_leave(m);
    vs_buf o = {0};
    assert_int_equal(vs_http_metrics_render(m, &o), 0);
    assert_int_equal(vs_http_metrics_family(&o, "vecscale_x_bytes", "gauge", "A gauge."), 0);
    assert_int_equal(vs_http_metrics_sample(&o, "vecscale_x_bytes", "collection", "c1", 12345678901.0), 0);
    assert_int_equal(vs_http_metrics_sample(&o, "vecscale_x_bytes", NULL, NULL, 0.5), 0);
    assert_int_equal(vs_buf_append(&o, "", 1), 0);
    const char *t = o.data;
    static const char *const want[] = {
        "# HELP vecscale_http_requests_total HTTP requests by route and status code.\n"
        "# TYPE vecscale_http_requests_total counter\n",
        "vecscale_http_requests_total{route=\"search\",code=\"200\"} 2\n",
        "vecscale_http_requests_total{route=\"search\",code=\"404\"} 1\n",
        "vecscale_http_requests_total{route=\"health\",code=\"other\"} 1\n",
        "vecscale_http_requests_total{route=\"other\",code=\"500\"} 1\n",
        "vecscale_http_errors_total{route=\"search\"} 1\n",
        "vecscale_http_errors_total{route=\"health\"} 1\n",
        "vecscale_http_errors_total{route=\"other\"} 1\n",
        "# TYPE vecscale_http_request_duration_seconds histogram\n",
        "vecscale_http_request_duration_seconds_bucket{route=\"search\",le=\"0.0001\"} 1\n",
        "vecscale_http_request_duration_seconds_bucket{route=\"search\",le=\"0.00025\"} 2\n",
        "vecscale_http_request_duration_seconds_bucket{route=\"search\",le=\"0.0025\"} 2\n",
        "vecscale_http_request_duration_seconds_bucket{route=\"search\",le=\"0.005\"} 3\n",
        "vecscale_http_request_duration_seconds_bucket{route=\"health\",le=\"5\"} 0\n",
        "vecscale_http_request_duration_seconds_bucket{route=\"health\",le=\"10\"} 1\n",
        "vecscale_http_request_duration_seconds_bucket{route=\"health\",le=\"+Inf\"} 1\n",
        "vecscale_http_request_duration_seconds_sum{route=\"search\"} 0.003300\n",
        "vecscale_http_request_duration_seconds_count{route=\"search\"} 3\n",
        "# TYPE vecscale_http_in_flight gauge\nvecscale_http_in_flight 1\n",
        "# HELP vecscale_x_bytes A gauge.\n# TYPE vecscale_x_bytes gauge\n"
        "vecscale_x_bytes{collection=\"c1\"} 12345678901\nvecscale_x_bytes 0.500000\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(t, want[i])) fail_msg("missing from the exposition: %s\n--- got:\n%s", want[i], t);
    /* Codes never seen print no sample. */
    assert_null(strstr(t, "code=\"201\""));
    vs_buf_free(&o);
    vs_http_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unescape_keeps_ids_whole),
        cmocka_unit_test(error_body_is_json),
        cmocka_unit_test(upload_stops_at_the_limit),
        cmocka_unit_test(routes_are_found_by_path_then_method),
        cmocka_unit_test(port_file_is_written_whole),
        cmocka_unit_test(metrics_render_what_was_recorded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
