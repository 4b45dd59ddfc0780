/*
 * singer_bridge._speedups: the RECORD hot path in C (optional; pure Python does the same).
 *
 * RecordScanner.scan(block, pos, clock_ms) reads the Singer lines of a block from ``pos`` and
 * turns every line of the common kind into its Airbyte RECORD line in one pass:
 *
 *     {"type":"RECORD","stream":"s","record":{...},"time_extracted":"2024-05-01T10:00:00.123456Z"}
 *  -> <the stream's prefix>{...},"emitted_at":1714557600123}}\n
 *
 * A line is of the common kind when it is one strictly valid JSON object (RFC 8259, UTF-8,
 * surrogate escapes paired) whose "type" is "RECORD", whose "stream" is a route given to
 * set_routes, whose "record" is an object, and whose "time_extracted" is absent, null, or a
 * plain string in the shape the fast parser knows. The scan stops at the first line that
 * is not of that kind and returns where it starts; the Python translator takes that line (with
 * its warnings, repairs, states and statuses) and calls scan again after it. So this module
 * accepts only what the Python path would deliver unchanged, and gives the same bytes for it.
 *
 * emitted_at is computed with the same double arithmetic as timestamps.extracted_ms:
 * int((micros_since_epoch) / 1_000_000 * 1000), truncated toward zero.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MAX_DEPTH 256 /* msgspec refuses somewhat deeper; deeper lines go to Python */
#define TE_MAX 64     /* longest time_extracted remembered as the last one */

typedef const unsigned char *cursor;

/* 1 where a string's plain run stops: quote, backslash, control characters, non-ASCII */
static unsigned char STRING_STOP[256];

static cursor skip_ws(cursor p, cursor end) {
    /* a newline ends the line (and so the message): it is not skipped here */
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
    return p;
}

static int hex4(cursor p, unsigned int *out) {
    unsigned int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned int)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned int)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned int)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

/* One UTF-8 sequence starting at p (a byte >= 0x80); the byte after it, or NULL. */
static cursor utf8_sequence(cursor p, cursor end) {
    unsigned char c = p[0];
    if (c < 0xC2) return NULL;
    if (c < 0xE0) {
        if (end - p < 2 || (p[1] & 0xC0) != 0x80) return NULL;
        return p + 2;
    }
    if (c < 0xF0) {
        if (end - p < 3 || (p[2] & 0xC0) != 0x80) return NULL;
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        if (p[1] < lo || p[1] > hi) return NULL;
        return p + 3;
    }
    if (c < 0xF5) {
        if (end - p < 4 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return NULL;
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        if (p[1] < lo || p[1] > hi) return NULL;
        return p + 4;
    }
    return NULL;
}

/* The first byte from p on that ends a string's plain run (see STRING_STOP), or end. */
static cursor plain_run(cursor p, cursor end) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i chunk = _mm_loadu_si128((const __m128i *)p);
        /* signed: below 0x20 are the control characters and every byte >= 0x80 */
        __m128i stop = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, backslash)),
            _mm_cmplt_epi8(chunk, space));
        int mask = _mm_movemask_epi8(stop);
        if (mask) return p + __builtin_ctz((unsigned int)mask);
        p += 16;
    }
#endif
    while (p < end && !STRING_STOP[*p]) p++;
    return p;
}

/* A JSON string at p (which is '"'); the byte after its closing quote, or NULL.
 * *escaped is set when it holds a backslash escape. */
static cursor scan_string(cursor p, cursor end, int *escaped) {
    p++;
    for (;;) {
        p = plain_run(p, end);
        if (p >= end) return NULL;
        unsigned char c = *p;
        if (c == '"') return p + 1;
        if (c == '\\') {
            *escaped = 1;
            if (end - p < 2) return NULL;
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p += 2;
                break;
            case 'u': {
                unsigned int unit, low;
                if (end - p < 6 || !hex4(p + 2, &unit)) return NULL;
                p += 6;
                if (unit >= 0xDC00 && unit <= 0xDFFF) return NULL; /* a lone low surrogate */
                if (unit >= 0xD800 && unit <= 0xDBFF) {              /* must be paired */
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &low))
                        return NULL;
                    if (low < 0xDC00 || low > 0xDFFF) return NULL;
                    p += 6;
                }
                break;
            }
            default:
                return NULL;
            }
            continue;
        }
        if (c < 0x20) return NULL;
        p = utf8_sequence(p, end);
        if (p == NULL) return NULL;
    }
}

static cursor scan_digits(cursor p, cursor end) {
    cursor start = p;
    while (p < end && *p >= '0' && *p <= '9') p++;
    return p == start ? NULL : p;
}

static cursor scan_number(cursor p, cursor end) {
    if (*p == '-') p++;
    if (p >= end) return NULL;
    if (*p == '0') p++;
    else if ((p = scan_digits(p, end)) == NULL) return NULL;
    if (p < end && *p == '.' && (p = scan_digits(p + 1, end)) == NULL) return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if ((p = scan_digits(p, end)) == NULL) return NULL;
    }
    return p;
}

static cursor scan_literal(cursor p, cursor end, const char *word, Py_ssize_t size) {
    if (end - p < size || memcmp(p, word, (size_t)size) != 0) return NULL;
    return p + size;
}

static cursor scan_value(cursor p, cursor end, int depth);

/* An object or array at p; the byte after it, or NULL. */
static cursor scan_container(cursor p, cursor end, int depth) {
    unsigned char close = *p == '{' ? '}' : ']';
    int object = close == '}', escaped = 0;
    if (depth >= MAX_DEPTH) return NULL;
    p = skip_ws(p + 1, end);
    if (p < end && *p == close) return p + 1;
    for (;;) {
        if (p >= end) return NULL;
        if (object) {
            if (*p != '"' || (p = scan_string(p, end, &escaped)) == NULL) return NULL;
            p = skip_ws(p, end);
            if (p >= end || *p != ':') return NULL;
            p = skip_ws(p + 1, end);
            if (p >= end) return NULL;
        }
        if ((p = scan_value(p, end, depth + 1)) == NULL) return NULL;
        p = skip_ws(p, end);
        if (p >= end) return NULL;
        if (*p == close) return p + 1;
        if (*p != ',') return NULL;
        p = skip_ws(p + 1, end);
    }
}

static cursor scan_value(cursor p, cursor end, int depth) {
    int escaped = 0;
    switch (*p) {
    case '{': case '[': return scan_container(p, end, depth);
    case '"': return scan_string(p, end, &escaped);
    case 't': return scan_literal(p, end, "true", 4);
    case 'f': return scan_literal(p, end, "false", 5);
    case 'n': return scan_literal(p, end, "null", 4);
    default:
        if (*p == '-' || (*p >= '0' && *p <= '9')) return scan_number(p, end);
        return NULL;
    }
}

/* ---- time_extracted ------------------------------------------------------------------- */

static int digits_at(cursor p, int count, int *out) {
    int v = 0;
    for (int i = 0; i < count; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 1;
}

static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) return 29;
    return days[m - 1];
}

/* "YYYY-MM-DDTHH:MM:SS" + ("" | "." 3 or 6 digits) + ("" | "Z" | "+HH:MM" | "-HH:MM") as
 * emitted_at; 0 when it is not that shape (the Python path then parses it). */
static int extracted_ms(cursor p, Py_ssize_t size, int64_t *out) {
    int year, month, day, hour, minute, second, fraction = 0, zh, zm;
    if (size < 19 || p[4] != '-' || p[7] != '-' || p[10] != 'T' || p[13] != ':' || p[16] != ':')
        return 0;
    if (!digits_at(p, 4, &year) || !digits_at(p + 5, 2, &month) || !digits_at(p + 8, 2, &day) ||
        !digits_at(p + 11, 2, &hour) || !digits_at(p + 14, 2, &minute) ||
        !digits_at(p + 17, 2, &second))
        return 0;
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
        hour > 23 || minute > 59 || second > 59)
        return 0;
    cursor rest = p + 19, end = p + size;
    if (rest < end && *rest == '.') {
        if (end - rest >= 7 && digits_at(rest + 1, 6, &fraction)) {
            rest += 7;
        } else if (end - rest >= 4 && digits_at(rest + 1, 3, &fraction)) {
            fraction *= 1000;
            rest += 4;
        } else {
            return 0;
        }
        if (rest < end && *rest >= '0' && *rest <= '9') return 0; /* another digit count */
    }
    int64_t offset = 0;
    if (end - rest == 1 && *rest == 'Z') {
        rest = end;
    } else if (end - rest == 6 && (*rest == '+' || *rest == '-') && rest[3] == ':') {
        if (!digits_at(rest + 1, 2, &zh) || !digits_at(rest + 4, 2, &zm) || zh > 23 || zm > 59)
            return 0;
        offset = ((int64_t)zh * 3600 + zm * 60) * 1000000;
        if (*rest == '-') offset = -offset;
        rest = end;
    }
    if (rest != end) return 0;
    int64_t days = days_from_civil(year, month, day);
    int64_t micros = (days * 86400 + hour * 3600 + minute * 60 + second) * 1000000 + fraction;
    micros -= offset;
    if (micros > ((int64_t)1 << 53) || micros < -((int64_t)1 << 53)) return 0; /* not exact */
    *out = (int64_t)((double)micros / 1000000.0 * 1000.0);
    return 1;
}

/* ---- the scanner ---------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *routes;     /* dict: stream name (bytes) -> (index, prefix bytes) */
    Py_ssize_t n_routes;  /* 1 + the largest index */
    unsigned char last_te[TE_MAX];
    Py_ssize_t last_te_size; /* -1: none */
    int64_t last_te_ms;
} Scanner;

typedef struct {
    PyObject *bytes;
    char *data;
    Py_ssize_t size, capacity;
} Output;

static int output_reserve(Output *out, Py_ssize_t more) {
    if (out->size + more <= out->capacity) return 1;
    Py_ssize_t capacity = out->capacity * 2;
    if (capacity < out->size + more) capacity = out->size + more;
    if (out->bytes == NULL) {
        out->bytes = PyBytes_FromStringAndSize(NULL, capacity);
        if (out->bytes == NULL) return 0;
    } else if (_PyBytes_Resize(&out->bytes, capacity) < 0) {
        return 0;
    }
    out->data = PyBytes_AS_STRING(out->bytes);
    out->capacity = capacity;
    return 1;
}

/* A scanner with no routes and no time remembered, even when __init__ is never called
 * (RecordScanner.__new__(RecordScanner)) */
static PyObject *scanner_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    (void)args;
    (void)kwds;
    Scanner *self = (Scanner *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->last_te_size = -1;
    self->routes = PyDict_New();
    if (self->routes == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int scanner_init(Scanner *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "", kwlist)) return -1;
    Py_XSETREF(self->routes, PyDict_New());
    self->n_routes = 0;
    self->last_te_size = -1;
    return self->routes == NULL ? -1 : 0;
}

static void scanner_dealloc(Scanner *self) {
    Py_XDECREF(self->routes);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *scanner_set_routes(Scanner *self, PyObject *routes) {
    PyObject *key, *value;
    Py_ssize_t i = 0, n = 0;
    if (!PyDict_Check(routes)) {
        PyErr_SetString(PyExc_TypeError, "routes must be a dict of bytes to (int, bytes)");
        return NULL;
    }
    while (PyDict_Next(routes, &i, &key, &value)) {
        Py_ssize_t index;
        /* exact bytes keys: a subclass's __eq__ would run Python code in the middle of a scan,
         * which could call set_routes and change n_routes under it */
        if (!PyBytes_CheckExact(key) || !PyTuple_Check(value) || PyTuple_GET_SIZE(value) != 2 ||
            !PyBytes_Check(PyTuple_GET_ITEM(value, 1)) ||
            (index = PyLong_AsSsize_t(PyTuple_GET_ITEM(value, 0))) < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "routes must be a dict of bytes to (int, bytes)");
            return NULL;
        }
        if (index + 1 > n) n = index + 1;
    }
    PyObject *copy = PyDict_Copy(routes); /* later changes to the caller's dict are not seen */
    if (copy == NULL) return NULL;
    Py_XSETREF(self->routes, copy);
    self->n_routes = n;
    Py_RETURN_NONE;
}

typedef struct {
    cursor stream, body, te; /* te: a string time_extracted's text, after its quote */
    Py_ssize_t stream_size, body_size, te_size; /* te_size -1: no string time_extracted */
    cursor next;                                /* the start of the following line */
} Line;

static int key_is(cursor key, Py_ssize_t size, const char *word) {
    return (Py_ssize_t)strlen(word) == size && memcmp(key, word, (size_t)size) == 0;
}

static int integer_literal(cursor p, cursor end) {
    if (p < end && *p == '-') p++;
    if (p >= end) return 0;
    while (p < end && *p >= '0' && *p <= '9') p++;
    return p == end;
}

static int is_decoded_field(cursor key, Py_ssize_t size) {
    static const char *const names[] = {"value",    "schema",   "key_properties",
                                        "bookmark_properties", "manifest", "encoding"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (key_is(key, size, names[i])) return 1;
    return 0;
}

/* Parse one line at p as a RECORD of the common kind; 1 and *line filled, or 0. */
static int parse_record_line(cursor p, cursor end, Line *line) {
    int seen_type = 0, escaped;
    line->stream = line->body = line->te = line->next = NULL;
    line->stream_size = line->body_size = 0;
    line->te_size = -1;
    if (p >= end || *p != '{') return 0;
    p = skip_ws(p + 1, end);
    for (;;) {
        if (p >= end || *p != '"') return 0;
        cursor key = p + 1;
        escaped = 0;
        if ((p = scan_string(p, end, &escaped)) == NULL || escaped) return 0;
        Py_ssize_t key_size = p - 1 - key;
        p = skip_ws(p, end);
        if (p >= end || *p != ':') return 0;
        p = skip_ws(p + 1, end);
        if (p >= end) return 0;
        cursor value = p;
        escaped = 0;
        if ((p = scan_value(p, end, 1)) == NULL) return 0;
        if (key_is(key, key_size, "type")) {
            if (seen_type || !key_is(value, p - value, "\"RECORD\"")) return 0;
            seen_type = 1;
        } else if (key_is(key, key_size, "stream")) {
            if (line->stream != NULL || *value != '"') return 0;
            if (scan_string(value, end, &escaped) == NULL || escaped) return 0;
            line->stream = value + 1;
            line->stream_size = p - value - 2;
        } else if (key_is(key, key_size, "record")) {
            if (line->body != NULL || *value != '{') return 0;
            line->body = value;
            line->body_size = p - value;
        } else if (key_is(key, key_size, "version")) {
            /* msgspec decodes the envelope's other fields, refusing a float out of range:
             * a version is taken when it is null or an integer, the rest go to Python */
            if (!key_is(value, p - value, "null") && !integer_literal(value, p)) return 0;
        } else if (is_decoded_field(key, key_size)) {
            return 0;
        } else if (key_is(key, key_size, "time_extracted")) {
            /* a string or null: Python decodes any other value (and 1e999 raises there) */
            if (line->te != NULL) return 0;
            line->te = value + 1;
            if (*value == '"') {
                if (scan_string(value, end, &escaped) == NULL || escaped) return 0;
                line->te_size = p - value - 2;
            } else if (!key_is(value, p - value, "null")) {
                return 0;
            }
        }
        p = skip_ws(p, end);
        if (p >= end) return 0;
        if (*p == '}') break;
        if (*p != ',') return 0;
        p = skip_ws(p + 1, end);
    }
    p = skip_ws(p + 1, end);
    if (p < end && *p != '\n') return 0; /* something after the object: Python takes it */
    line->next = p < end ? p + 1 : p;
    return seen_type && line->stream != NULL && line->body != NULL;
}

static char *write_suffix(char *out, int64_t ms) {
    char digits[24];
    int n = 0;
    uint64_t v = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    memcpy(out, ",\"emitted_at\":", 14);
    out += 14;
    if (ms < 0) *out++ = '-';
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *out++ = digits[--n];
    memcpy(out, "}}\n", 3);
    return out + 3;
}

/* scan(block, pos, clock_ms) -> (lines: bytes, pos: int, counts: list[int]) */
static PyObject *scanner_scan(Scanner *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t pos;
    long long clock_ms;
    if (!PyArg_ParseTuple(args, "y*nL", &view, &pos, &clock_ms)) return NULL;
    PyObject *result = NULL, *counts = NULL, *name = NULL;
    Py_ssize_t *tally = NULL;
    Output out = {NULL, NULL, 0, 0};
    cursor base = (cursor)view.buf, end = base + view.len, p;
    if (pos < 0 || pos > view.len) {
        PyErr_SetString(PyExc_ValueError, "pos out of range");
        goto done;
    }
    const Py_ssize_t n_routes = self->n_routes; /* the tally's size, whatever happens */
    tally = PyMem_Calloc((size_t)(n_routes ? n_routes : 1), sizeof(Py_ssize_t));
    if (tally == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    cursor last_stream = NULL;
    Py_ssize_t last_stream_size = 0, last_index = 0;
    PyObject *last_prefix = NULL; /* borrowed from self->routes, which the scan holds */
    Py_INCREF(self->routes);
    PyObject *routes = self->routes;
    p = base + pos;
    while (p < end) {
        cursor start = skip_ws(p, end);
        if (start < end && *start == '\n') { /* a blank line */
            p = start + 1;
            continue;
        }
        if (start >= end) {
            p = end;
            break;
        }
        Line line;
        if (!parse_record_line(start, end, &line)) break;
        if (last_prefix == NULL || line.stream_size != last_stream_size ||
            memcmp(line.stream, last_stream, (size_t)line.stream_size) != 0) {
            name = PyBytes_FromStringAndSize((const char *)line.stream, line.stream_size);
            if (name == NULL) goto fail;
            PyObject *route = PyDict_GetItemWithError(routes, name);
            Py_CLEAR(name);
            if (route == NULL) {
                if (PyErr_Occurred()) goto fail;
                break; /* not a stream the scanner may take */
            }
            last_index = PyLong_AsSsize_t(PyTuple_GET_ITEM(route, 0));
            if (last_index < 0 || last_index >= n_routes) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "bad route index");
                goto fail;
            }
            last_prefix = PyTuple_GET_ITEM(route, 1);
            last_stream = line.stream;
            last_stream_size = line.stream_size;
        }
        int64_t ms;
        if (line.te_size < 0) {
            ms = clock_ms; /* absent or null: the clock */
        } else if (line.te_size == self->last_te_size &&
                   memcmp(line.te, self->last_te, (size_t)line.te_size) == 0) {
            ms = self->last_te_ms;
        } else if (extracted_ms(line.te, line.te_size, &ms)) {
            if (line.te_size <= TE_MAX) {
                memcpy(self->last_te, line.te, (size_t)line.te_size);
                self->last_te_size = line.te_size;
                self->last_te_ms = ms;
            }
        } else {
            break; /* a time the fast parser does not know: Python parses it */
        }
        Py_ssize_t prefix_size = PyBytes_GET_SIZE(last_prefix);
        if (!output_reserve(&out, prefix_size + line.body_size + 48)) goto fail;
        char *w = out.data + out.size;
        memcpy(w, PyBytes_AS_STRING(last_prefix), (size_t)prefix_size);
        w += prefix_size;
        memcpy(w, line.body, (size_t)line.body_size);
        w = write_suffix(w + line.body_size, ms);
        out.size = w - out.data;
        tally[last_index]++;
        p = line.next;
    }
    if (out.bytes == NULL) {
        out.bytes = PyBytes_FromStringAndSize(NULL, 0);
        if (out.bytes == NULL) goto fail;
    } else if (_PyBytes_Resize(&out.bytes, out.size) < 0) {
        goto fail;
    }
    counts = PyList_New(n_routes);
    if (counts == NULL) goto fail;
    for (Py_ssize_t i = 0; i < n_routes; i++) {
        PyObject *n = PyLong_FromSsize_t(tally[i]);
        if (n == NULL) goto fail;
        PyList_SET_ITEM(counts, i, n);
    }
    result = Py_BuildValue("(NnN)", out.bytes, (Py_ssize_t)(p - base), counts);
    out.bytes = counts = NULL;
fail:
    Py_DECREF(routes);
    Py_XDECREF(name);
    Py_XDECREF(counts);
    Py_XDECREF(out.bytes);
done:
    PyMem_Free(tally);
    PyBuffer_Release(&view);
    return result;
}

static PyObject *scanner_forget_time(Scanner *self, PyObject *unused) {
    (void)unused;
    self->last_te_size = -1;
    Py_RETURN_NONE;
}

static PyMethodDef scanner_methods[] = {
    {"set_routes", (PyCFunction)scanner_set_routes, METH_O,
     "set_routes({stream name bytes: (index, prefix bytes)}): the streams scan may take."},
    {"scan", (PyCFunction)scanner_scan, METH_VARARGS,
     "scan(block, pos, clock_ms) -> (lines, pos, counts): the RECORD lines of the common kind "
     "from pos on, where the first other line starts, and records per route index."},
    {"forget_time", (PyCFunction)scanner_forget_time, METH_NOARGS,
     "Forget the last time_extracted (for tests)."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "singer_bridge._speedups.RecordScanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The RECORD hot path: see the module docstring.",
    .tp_new = scanner_new,
    .tp_init = (initproc)scanner_init,
    .tp_dealloc = (destructor)scanner_dealloc,
    .tp_methods = scanner_methods,
};

/* extracted_ms(text: bytes) -> int | None: the fast parser, for tests against Python's */
static PyObject *module_extracted_ms(PyObject *module, PyObject *arg) {
    int64_t ms;
    (void)module;
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "bytes expected");
        return NULL;
    }
    if (!extracted_ms((cursor)PyBytes_AS_STRING(arg), PyBytes_GET_SIZE(arg), &ms)) Py_RETURN_NONE;
    return PyLong_FromLongLong(ms);
}

static PyMethodDef module_methods[] = {
    {"extracted_ms", module_extracted_ms, METH_O,
     "The fast time_extracted parser: epoch milliseconds, or None for another shape."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "singer_bridge._speedups",
    "The RECORD hot path in C; singer_bridge.translate.fastpath uses it when it is built.", -1,
    module_methods};

PyMODINIT_FUNC PyInit__speedups(void) {
    for (int c = 0; c < 256; c++) STRING_STOP[c] = c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
    if (PyType_Ready(&ScannerType) < 0) return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) return NULL;
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(module, "RecordScanner", (PyObject *)&ScannerType) < 0) {
        Py_DECREF(&ScannerType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
