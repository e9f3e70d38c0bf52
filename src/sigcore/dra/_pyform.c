/* sigcore.dra._pyform: the rt_pyform walk of one relayed message (pyform._Call.walk and _Call._value), compiled.
 *
 * The DRA calls the operator's transform for every string-typed AVP of every relayed request and answer.
 * In Python the walk itself (AVP headers, the kind lookup, decoding, comparing) was the larger part of the
 * transform's cost; here the script calls are what remain (figures: docs/performance.md). It does exactly what
 * the Python walk does, which stays the reference and the fallback where this did not build: the tests
 * (tests/dra/test_pyform_speedups.py) compare both on the same messages, scripts and errors, byte for byte.
 *
 * walk(frame, func, kinds, errors, label) -> (message | None | False, calls, routing_changed)
 *   frame   the whole message (bytes or bytearray; a bytearray is copied first, as the script could resize it)
 *   func    transform(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value) -> str
 *   kinds   pyform.packed_kinds(): native uint64 pairs (code | vendor << 32, kind), sorted by key
 *   errors  the ScriptErrors: .exception(label, err) for a script's Exception, .bad_value(label, what)
 * The result is the re-encoded message when a value changed, None when none did, False when an AVP header
 * does not fit (or groups nest deeper than MAX_DEPTH): the caller relays the frame byte-exact. A script's
 * BaseException that is not an Exception (KeyboardInterrupt, SystemExit), a failing error reporter, a
 * raising __eq__ of a str subclass and MemoryError propagate, as from the Python walk.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define KIND_STRING 1
#define KIND_GROUPED 2
#define MAX_DEPTH 16 /* = pyform.MAX_DEPTH = dictionary.MAX_GROUP_DEPTH */

/* walk_level results besides "changed" (1) and "unchanged" (0) */
#define ERROR -1
#define MALFORMED -2

static PyObject *s_exception, *s_bad_value, *s_encode, *s_utf8, *s_latin1, *struct_error;

typedef struct {
    char *p;
    Py_ssize_t len, cap;
} out_buf;

typedef struct {
    const unsigned char *buf;
    PyObject *func, *errors, *label;
    const uint64_t *kinds; /* pairs: key, kind */
    Py_ssize_t nkinds;
    PyObject *args[9]; /* [0] free for PY_VECTORCALL_ARGUMENTS_OFFSET; 1-5 the header fields */
    Py_ssize_t calls;
    int routing_changed;
} walk_state;

static inline uint32_t word_at(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static int append(out_buf *o, const void *data, Py_ssize_t n)
{
    if (o->len + n > o->cap) {
        Py_ssize_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n)
            cap *= 2;
        char *p = PyMem_Realloc(o->p, (size_t)cap);
        if (p == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, data, (size_t)n);
    o->len += n;
    return 0;
}

static int kind_of(const walk_state *w, uint32_t code, uint32_t vendor)
{
    uint64_t key = (uint64_t)code | (uint64_t)vendor << 32;
    Py_ssize_t lo = 0, hi = w->nkinds;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        uint64_t k = w->kinds[2 * mid];
        if (k == key)
            return (int)w->kinds[2 * mid + 1];
        if (k < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* The script raised: an Exception goes to errors.exception(label, err) with its traceback (0); anything
 * else stays raised (-1). */
static int report_exception(walk_state *w)
{
    if (!PyErr_ExceptionMatches(PyExc_Exception))
        return -1;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL)
        PyException_SetTraceback(value, tb);
    PyObject *r = PyObject_CallMethodObjArgs(w->errors, s_exception, w->label, value, NULL);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static int report_bad_value(walk_state *w, PyObject *what)
{
    if (what == NULL)
        return -1;
    PyObject *r = PyObject_CallMethodObjArgs(w->errors, s_bad_value, w->label, what, NULL);
    Py_DECREF(what);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* what bad_value says of a result that is not a str: "<type name>, not str" */
static PyObject *not_str(PyObject *result)
{
    PyObject *name = PyType_GetName(Py_TYPE(result));
    if (name == NULL)
        return NULL;
    PyObject *what = PyUnicode_FromFormat("%U, not str", name);
    Py_DECREF(name);
    return what;
}

/* result.encode(codec): exact str through the C API, a subclass through its own method */
static PyObject *encode(PyObject *result, int utf8)
{
    if (PyUnicode_CheckExact(result))
        return utf8 ? PyUnicode_AsUTF8String(result) : PyUnicode_AsLatin1String(result);
    PyObject *b = PyObject_CallMethodOneArg(result, s_encode, utf8 ? s_utf8 : s_latin1);
    if (b != NULL && !PyBytes_Check(b)) {
        Py_DECREF(b);
        PyErr_SetString(PyExc_TypeError, "str.encode() of a str subclass did not return bytes");
        return NULL;
    }
    return b;
}

/* _Call._value: the new octets of a string AVP's value (*out), or NULL when it stays; -1 on a raised error */
static int value(walk_state *w, const unsigned char *data, Py_ssize_t n, uint32_t code, uint32_t vendor,
                 PyObject **out)
{
    *out = NULL;
    int utf8 = 1;
    PyObject *text = PyUnicode_DecodeUTF8((const char *)data, n, NULL);
    if (text == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
            return -1;
        PyErr_Clear();
        utf8 = 0;
        text = PyUnicode_DecodeLatin1((const char *)data, n, NULL);
        if (text == NULL)
            return -1;
    }
    PyObject *pcode = PyLong_FromUnsignedLong(code);
    PyObject *pvendor = PyLong_FromUnsignedLong(vendor);
    if (pcode == NULL || pvendor == NULL) {
        Py_XDECREF(pcode);
        Py_XDECREF(pvendor);
        Py_DECREF(text);
        return -1;
    }
    w->calls++;
    w->args[6] = pcode;
    w->args[7] = pvendor;
    w->args[8] = text;
    PyObject *result = PyObject_Vectorcall(w->func, w->args + 1, 8 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(pcode);
    Py_DECREF(pvendor);
    int rc = 0;
    if (result == NULL)
        rc = report_exception(w);
    else if (result == text)
        ;
    else if (!PyUnicode_Check(result))
        rc = report_bad_value(w, not_str(result));
    else {
        int same = PyObject_RichCompareBool(result, text, Py_EQ);
        if (same < 0)
            rc = -1;
        else if (!same) {
            PyObject *b = encode(result, utf8);
            if (b == NULL && PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
                PyErr_Clear();
                b = encode(result, 1);
                if (b == NULL && PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
                    PyErr_Clear();
                    rc = report_bad_value(w, PyUnicode_FromString("a str that is not encodable as UTF-8"));
                }
                else if (b == NULL)
                    rc = -1;
            }
            else if (b == NULL)
                rc = -1;
            *out = b;
        }
    }
    Py_XDECREF(result);
    Py_DECREF(text);
    return rc;
}

/* _Call.walk over buf[off:end]: 1 with the re-encoded AVPs appended to o, 0 unchanged (o untouched),
 * ERROR or MALFORMED */
static int walk_level(walk_state *w, Py_ssize_t off, Py_ssize_t end, int depth, out_buf *o)
{
    const unsigned char *buf = w->buf;
    Py_ssize_t copied = off; /* buf[copied:off] is unchanged and not yet in o */
    int changed = 0;
    static const char pad[4] = {0, 0, 0, 0};
    while (off < end) {
        if (end - off < 8)
            return MALFORMED;
        uint32_t code = word_at(buf + off), flags_len = word_at(buf + off + 4);
        Py_ssize_t length = flags_len & 0xFFFFFF, hl = 8;
        uint32_t vendor = 0;
        if (flags_len & 0x80000000u) {
            if (end - off < 12)
                return MALFORMED;
            vendor = word_at(buf + off + 8);
            hl = 12;
        }
        int kind = kind_of(w, code, vendor);
        if (length < hl || off + length > end)
            return MALFORMED;
        Py_ssize_t nxt = off + ((length + 3) & ~(Py_ssize_t)3);
        if (kind != 0) {
            PyObject *bytes_new = NULL;
            out_buf group = {NULL, 0, 0};
            const char *new_data;
            Py_ssize_t new_len;
            int rc;
            if (kind == KIND_STRING) {
                rc = value(w, buf + off + hl, length - hl, code, vendor, &bytes_new);
                if (rc == 0 && bytes_new != NULL)
                    rc = 1;
                new_data = bytes_new ? PyBytes_AS_STRING(bytes_new) : NULL;
                new_len = bytes_new ? PyBytes_GET_SIZE(bytes_new) : 0;
            }
            else {
                rc = depth >= MAX_DEPTH ? MALFORMED : walk_level(w, off + hl, off + length, depth + 1, &group);
                new_data = group.p;
                new_len = group.len;
            }
            if (rc == 1) {
                if (hl == 8 && (code == 283 || code == 293 || code == 282))
                    w->routing_changed = 1;
                Py_ssize_t total = hl + new_len;
                if (total > 0xFFFFFF) {
                    PyErr_SetString(PyExc_OverflowError, "int too big to convert");
                    rc = ERROR;
                }
                else {
                    unsigned char head[12];
                    memcpy(head, buf + off, (size_t)hl);
                    head[5] = (unsigned char)(total >> 16);
                    head[6] = (unsigned char)(total >> 8);
                    head[7] = (unsigned char)total;
                    if (append(o, buf + copied, off - copied) < 0 || append(o, head, hl) < 0
                        || append(o, new_data, new_len) < 0 || append(o, pad, (4 - (new_len & 3)) & 3) < 0)
                        rc = ERROR;
                    changed = 1;
                    copied = nxt < end ? nxt : end;
                }
            }
            Py_XDECREF(bytes_new);
            PyMem_Free(group.p);
            if (rc < 0)
                return rc;
        }
        off = nxt;
    }
    if (!changed)
        return 0;
    return append(o, buf + copied, end - copied) < 0 ? ERROR : 1;
}

static PyObject *walk(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "walk() takes 5 arguments");
        return NULL;
    }
    PyObject *frame = args[0], *kinds = args[2];
    if (!PyBytes_CheckExact(kinds) || PyBytes_GET_SIZE(kinds) % 16) {
        PyErr_SetString(PyExc_TypeError, "walk(): kinds must be pyform.packed_kinds()");
        return NULL;
    }
    if (PyByteArray_Check(frame))
        frame = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(frame), PyByteArray_GET_SIZE(frame));
    else if (PyBytes_Check(frame))
        Py_INCREF(frame);
    else {
        PyErr_SetString(PyExc_TypeError, "walk(): frame must be bytes or bytearray");
        return NULL;
    }
    if (frame == NULL)
        return NULL;
    Py_ssize_t size = PyBytes_GET_SIZE(frame);
    if (size < 20) {
        Py_DECREF(frame);
        PyErr_SetString(struct_error, "unpack_from requires a buffer of at least 20 bytes");
        return NULL;
    }
    const unsigned char *buf = (const unsigned char *)PyBytes_AS_STRING(frame);
    uint32_t flags_code = word_at(buf + 4);
    walk_state w = {buf, args[1], args[3], args[4], (const uint64_t *)PyBytes_AS_STRING(kinds),
                    PyBytes_GET_SIZE(kinds) / 16, {NULL}, 0, 0};
    w.args[1] = PyLong_FromUnsignedLong(word_at(buf + 8));
    w.args[2] = PyLong_FromUnsignedLong(flags_code >> 24);
    w.args[3] = PyLong_FromUnsignedLong(flags_code & 0xFFFFFF);
    w.args[4] = PyLong_FromUnsignedLong(word_at(buf + 12));
    w.args[5] = PyLong_FromUnsignedLong(word_at(buf + 16));
    out_buf o = {NULL, 0, 0};
    int rc = ERROR;
    if (w.args[1] && w.args[2] && w.args[3] && w.args[4] && w.args[5]) {
        static const char header[20];
        rc = append(&o, header, 20) < 0 ? ERROR : walk_level(&w, 20, size, 0, &o);
    }
    for (int i = 1; i <= 5; i++)
        Py_XDECREF(w.args[i]);
    PyObject *message = NULL;
    if (rc == 1) {
        message = PyBytes_FromStringAndSize(o.p, o.len);
        if (message != NULL) {
            unsigned char *p = (unsigned char *)PyBytes_AS_STRING(message);
            Py_ssize_t n = o.len;
            p[0] = 1;
            p[1] = (unsigned char)(n >> 16);
            p[2] = (unsigned char)(n >> 8);
            p[3] = (unsigned char)n;
            memcpy(p + 4, buf + 4, 16);
        }
    }
    PyMem_Free(o.p);
    Py_DECREF(frame);
    if (rc == ERROR || (rc == 1 && message == NULL))
        return NULL;
    if (rc == 0 || rc == MALFORMED)
        message = Py_NewRef(rc == 0 ? Py_None : Py_False);
    return Py_BuildValue("(NnN)", message, w.calls, PyBool_FromLong(w.routing_changed));
}

static PyMethodDef methods[] = {
    {"walk", (PyCFunction)(void (*)(void))walk, METH_FASTCALL,
     "walk(frame, func, kinds, errors, label) -> (message | None | False, calls, routing_changed): "
     "pyform's transform walk over one message (see pyform.PyformTransform.apply)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_pyform", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__pyform(void)
{
    struct { PyObject **slot; const char *text; } names[] = {
        {&s_exception, "exception"}, {&s_bad_value, "bad_value"}, {&s_encode, "encode"},
        {&s_utf8, "utf-8"}, {&s_latin1, "latin-1"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        *names[i].slot = PyUnicode_InternFromString(names[i].text);
        if (*names[i].slot == NULL)
            return NULL;
    }
    PyObject *st = PyImport_ImportModule("struct");
    if (st == NULL)
        return NULL;
    struct_error = PyObject_GetAttrString(st, "error");
    Py_DECREF(st);
    if (struct_error == NULL)
        return NULL;
    return PyModule_Create(&module);
}
