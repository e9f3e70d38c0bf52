/* sigcore.diameter._speedups: the CCF check of a received message (Dictionary.check_raw), compiled, and
 * the relay's two reads of every relayed message (relay.Routing, relay.result_code), at the end.
 *
 * check_raw walks every AVP of every received request, at every grouped level: the hot path of the
 * whole stack, and in CPython ~6K instructions an AVP. This walks the same bytes with the same tables
 * (RuleSet.int_entries, RuleSet.slots, RuleSet.required_slots) and answers one question: is the message
 * valid? It never builds an error. Whenever it sees anything the Python walk would refuse (a length
 * that does not fit, a forbidden M-bit, too many or too few occurrences, a value that does not decode),
 * or anything it does not handle itself, it returns False and check_raw walks the bytes again in
 * Python, which raises the exact Result-Code and Failed-AVP of RFC 6733 §7. So the answer to every bad
 * message is the Python code's, by construction; the tests compare both walks on valid and mutated
 * messages.
 *
 * check(buf, off, end, rules, out, unlisted, any_rules, avp_type) -> bool
 *   buf       the message (bytes)
 *   off, end  the AVPs to check, buf[off:end]
 *   rules     the RuleSet of this level
 *   out       None, or a list to which an Avp (avp_type) is appended for each AVP of this level
 *   unlisted  Dictionary._unlisted: the entry of an AVP no rule names (or None: skip it), or raises
 *   any_rules the RuleSet of a Grouped AVP without rules
 * Values are checked as check_raw checks them: sizes and closed enumerations (AvpDef.decode and
 * enum_names), ASCII text without a decode, other text and the decoded types through AvpDef.decode.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

/* AvpDef.kind values, as in dictionary.py */
enum { KIND_FIXED, KIND_CLOSED, KIND_GROUPED, KIND_RAW, KIND_TEXT, KIND_DECODE };

#define MAX_SLOTS 256  /* RuleSets with more allowed AVPs go to the Python walk */
#define MAX_DEPTH 16   /* = dictionary.MAX_GROUP_DEPTH: deeper nesting goes to the Python walk, which refuses it */

static PyObject *s_int_entries, *s_slots, *s_required_slots, *s_rules, *s_decode, *s_enum_names;
static PyObject *s_code, *s_flags, *s_vendor, *s_data;

/* 1 valid, 0 not (or not handled here), -1 a Python error that must propagate (MemoryError only) */
typedef int verdict;

static inline uint32_t word_at(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* A Python exception from a callback or a lookup: the Python walk will meet (and raise) it again, in
 * its own order and with its own wrapping; only running out of memory stops here. */
static verdict give_up(void)
{
    if (PyErr_ExceptionMatches(PyExc_MemoryError))
        return -1;
    PyErr_Clear();
    return 0;
}

/* d.decode(buf[start:stop]); 1 if it decodes (and, with enum_names, is one of them), 0 if not */
static verdict value_ok(PyObject *d, const char *data, Py_ssize_t start, Py_ssize_t stop, int closed)
{
    PyObject *decode = PyObject_GetAttr(d, s_decode);
    if (decode == NULL)
        return give_up();
    PyObject *payload = PyBytes_FromStringAndSize(data + start, stop - start);
    if (payload == NULL) {
        Py_DECREF(decode);
        return -1;
    }
    PyObject *value = PyObject_CallOneArg(decode, payload);
    Py_DECREF(decode);
    Py_DECREF(payload);
    if (value == NULL)
        return give_up();
    if (!closed) {
        Py_DECREF(value);
        return 1;
    }
    PyObject *names = PyObject_GetAttr(d, s_enum_names);
    if (names == NULL) {
        Py_DECREF(value);
        return give_up();
    }
    int found = PySequence_Contains(names, value);
    Py_DECREF(names);
    Py_DECREF(value);
    if (found < 0)
        return give_up();
    return found ? 1 : 0;
}

/* Where an Avp keeps code, flags, vendor and data: its __slots__ members' offsets, looked up once per type,
 * so a new Avp's fields are stored directly, as object.__new__ plus four attribute stores would leave them */
static PyTypeObject *avp_layout_type;
static Py_ssize_t avp_offsets[4];

static int avp_layout(PyTypeObject *type)
{
    if (type == avp_layout_type)
        return 1;
    PyObject *names[4] = {s_code, s_flags, s_vendor, s_data};
    for (int i = 0; i < 4; i++) {
        PyObject *descr = PyObject_GetAttr((PyObject *)type, names[i]);
        if (descr == NULL) {
            PyErr_Clear();
            return 0;
        }
        int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type)
                 && ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX;
        if (ok)
            avp_offsets[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
        Py_DECREF(descr);
        if (!ok)
            return 0;
    }
    avp_layout_type = type;
    return 1;
}

/* Append Avp(code, flags, vendor, buf[start:stop]) to out, as check_raw does (no __init__: flags as sent) */
static int append_avp(PyObject *out, PyTypeObject *avp_type, uint32_t code, uint32_t flags, uint32_t vendor,
                      const char *data, Py_ssize_t start, Py_ssize_t stop)
{
    PyObject *avp = avp_type->tp_alloc(avp_type, 0);
    if (avp == NULL)
        return -1;
    PyObject *values[4] = {PyLong_FromUnsignedLong(code), PyLong_FromUnsignedLong(flags),
                           PyLong_FromUnsignedLong(vendor), PyBytes_FromStringAndSize(data + start, stop - start)};
    int rc = 0;
    for (int i = 0; i < 4; i++) {
        if (values[i] == NULL)
            rc = -1;
        else
            *(PyObject **)((char *)avp + avp_offsets[i]) = values[i];  /* a new object's slots are NULL */
    }
    if (rc == 0)
        rc = PyList_Append(out, avp);
    Py_DECREF(avp);
    return rc;
}

static int is_ascii(const unsigned char *p, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        if (p[i] & 0x80)
            return 0;
    return 1;
}

/* An int attribute of a RuleSet, or -1 */
static Py_ssize_t int_attr(PyObject *obj, PyObject *name)
{
    PyObject *v = PyObject_GetAttr(obj, name);
    if (v == NULL)
        return -1;
    Py_ssize_t n = PyLong_AsSsize_t(v);
    Py_DECREF(v);
    return n;
}

typedef struct {
    PyObject *buf;
    const unsigned char *data;
    PyObject *unlisted;
    PyObject *any_rules;
    PyTypeObject *avp_type;
} walk;

static verdict check_level(walk *w, Py_ssize_t off, Py_ssize_t end, PyObject *rules, PyObject *out, int depth);

/* The entry tuple (must_not << 24, slot, most, kind, size, definition) unpacked */
typedef struct {
    long must_not, slot, most, kind, size;
    PyObject *def;  /* borrowed from the entry, which the rules keep alive */
} entry_t;

static int unpack_entry(PyObject *entry, entry_t *e)
{
    if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 6)
        return 0;
    e->must_not = PyLong_AsLong(PyTuple_GET_ITEM(entry, 0));
    e->slot = PyLong_AsLong(PyTuple_GET_ITEM(entry, 1));
    e->most = PyLong_AsLong(PyTuple_GET_ITEM(entry, 2));
    e->kind = PyLong_AsLong(PyTuple_GET_ITEM(entry, 3));
    PyObject *size = PyTuple_GET_ITEM(entry, 4);
    e->size = size == Py_None ? -1 : PyLong_AsLong(size);
    e->def = PyTuple_GET_ITEM(entry, 5);
    if (PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

static verdict check_level(walk *w, Py_ssize_t off, Py_ssize_t end, PyObject *rules, PyObject *out, int depth)
{
    if (depth > MAX_DEPTH)
        return 0;
    PyObject *entries = PyObject_GetAttr(rules, s_int_entries);  /* code | vendor << 32 -> entry */
    if (entries == NULL)
        return give_up();
    if (!PyDict_CheckExact(entries)) {
        Py_DECREF(entries);
        return 0;
    }
    Py_ssize_t slots = int_attr(rules, s_slots);
    if (slots < 1 || slots > MAX_SLOTS) {
        Py_DECREF(entries);
        return slots < 0 && PyErr_Occurred() ? give_up() : 0;
    }
    long counts[MAX_SLOTS];
    memset(counts, 0, sizeof(long) * (size_t)slots);
    const unsigned char *data = w->data;
    verdict result = 1;

    while (off < end) {
        if (end - off < 8) {
            result = 0;
            break;
        }
        uint32_t code = word_at(data + off);
        uint32_t flags_len = word_at(data + off + 4);
        Py_ssize_t length = flags_len & 0xFFFFFF;
        Py_ssize_t start;
        uint32_t vendor;
        if (flags_len & 0x80000000u) {
            start = off + 12;
            vendor = end - off >= 12 ? word_at(data + off + 8) : 0;
        } else {
            start = off + 8;
            vendor = 0;
        }
        Py_ssize_t stop = off + length;
        if (stop < start || stop > end) {
            result = 0;
            break;
        }
        if (out != NULL && append_avp(out, w->avp_type, code, flags_len >> 24, vendor, (const char *)data,
                                      start, stop) < 0) {
            result = -1;
            break;
        }
        PyObject *key = PyLong_FromUnsignedLongLong((unsigned long long)code | (unsigned long long)vendor << 32);
        if (key == NULL) {
            result = -1;
            break;
        }
        PyObject *entry = PyDict_GetItemWithError(entries, key);  /* borrowed */
        Py_XINCREF(entry);
        if (entry == NULL && PyErr_Occurred()) {
            Py_DECREF(key);
            result = give_up();
            break;
        }
        if (entry == NULL) {  /* no rule names it: Dictionary._unlisted decides (skip, free entry or raise) */
            entry = PyObject_CallFunction(w->unlisted, "OnnkkkO", w->buf, off, end, (unsigned long)code,
                                          (unsigned long)vendor, (unsigned long)flags_len, rules);
            if (entry == NULL) {
                Py_DECREF(key);
                result = give_up();
                break;
            }
            if (entry == Py_None) {
                Py_DECREF(entry);
                Py_DECREF(key);
                off += (length + 3) & ~(Py_ssize_t)3;
                continue;
            }
        }
        Py_DECREF(key);
        entry_t e;
        int unpacked = unpack_entry(entry, &e);
        Py_DECREF(entry);  /* e.def stays alive: the rules (or the dictionary) hold the entry */
        if (!unpacked || e.slot < 0 || e.slot >= slots) {
            result = 0;
            break;
        }
        if ((long)flags_len & e.must_not) {
            result = 0;
            break;
        }
        long n = ++counts[e.slot];
        if (n > e.most) {
            result = 0;
            break;
        }
        if (e.kind <= KIND_CLOSED) {
            if (stop - start != e.size) {
                result = 0;
                break;
            }
            if (e.kind == KIND_CLOSED) {
                result = value_ok(e.def, (const char *)data, start, stop, 1);
                if (result != 1)
                    break;
            }
        } else if (e.kind == KIND_GROUPED) {
            PyObject *inner = PyObject_GetAttr(e.def, s_rules);
            if (inner == NULL) {
                result = give_up();
                break;
            }
            if (inner == Py_None) {
                Py_DECREF(inner);
                inner = Py_NewRef(w->any_rules);
            }
            result = check_level(w, start, stop, inner, NULL, depth + 1);
            Py_DECREF(inner);
            if (result != 1)
                break;
        } else if (e.kind == KIND_TEXT && e.size >= 0 && stop - start > e.size) {
            result = 0; /* longer than its type allows (DiameterIdentity): the Python walk names it */
            break;
        } else if (e.kind == KIND_DECODE
                   || (e.kind == KIND_TEXT && (stop == start || !is_ascii(data + start, stop - start)))) {
            result = value_ok(e.def, (const char *)data, start, stop, 0);
            if (result != 1)
                break;
        } else if (e.kind != KIND_RAW && e.kind != KIND_TEXT) {
            result = 0;
            break;
        }
        off += (length + 3) & ~(Py_ssize_t)3;
    }
    Py_DECREF(entries);
    if (result != 1)
        return result;

    PyObject *required = PyObject_GetAttr(rules, s_required_slots);  /* [(slot, least, definition)] */
    if (required == NULL)
        return give_up();
    if (!PyList_CheckExact(required)) {
        Py_DECREF(required);
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(required) && result == 1; i++) {
        PyObject *item = PyList_GET_ITEM(required, i);
        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 3) {
            result = 0;
            break;
        }
        long slot = PyLong_AsLong(PyTuple_GET_ITEM(item, 0));
        long least = PyLong_AsLong(PyTuple_GET_ITEM(item, 1));
        if (PyErr_Occurred()) {
            result = give_up();
            break;
        }
        if (slot < 0 || slot >= slots || counts[slot] < least)
            result = 0;
    }
    Py_DECREF(required);
    return result;
}

static PyObject *check(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "check() takes 8 arguments");
        return NULL;
    }
    PyObject *buf = args[0];
    if (!PyBytes_CheckExact(buf) || !PyType_Check(args[7]) || !(args[4] == Py_None || PyList_CheckExact(args[4]))
        || (args[4] != Py_None && !avp_layout((PyTypeObject *)args[7])))
        Py_RETURN_FALSE;
    Py_ssize_t off = PyLong_AsSsize_t(args[1]);
    Py_ssize_t end = PyLong_AsSsize_t(args[2]);
    if (PyErr_Occurred())
        return NULL;
    if (off < 0 || end > PyBytes_GET_SIZE(buf) || off > end)
        Py_RETURN_FALSE;
    walk w = {buf, (const unsigned char *)PyBytes_AS_STRING(buf), args[5], args[6], (PyTypeObject *)args[7]};
    verdict v = check_level(&w, off, end, args[3], args[4] == Py_None ? NULL : args[4], 0);
    if (v < 0)
        return NULL;
    return PyBool_FromLong(v);
}

/* --- the relay's reads (diameter/relay.py): top-level AVP headers only, no dictionary ------------------
 *
 * relay_facts(buf, own) -> (destination_host, destination_realm, looped) | None
 *   What relay.Routing reads of every relayed request: the payloads of the last vendor-0
 *   Destination-Host (293) and Destination-Realm (283) as bytes (or None), and whether a vendor-0
 *   Route-Record (282) equals ``own`` (lower-case bytes) without regard to ASCII case.
 * result_code(buf) -> int | None | False
 *   The first top-level vendor-0 Result-Code (268) of four octets, or None.
 * Both answer None/False where an AVP header does not fit the message (or buf is neither bytes nor
 * bytearray): the Python walk then raises its exact ValueError. tests/diameter/test_relay_speedups.py
 * compares them with the Python walks on valid and mutated messages. */

static int frame_bytes(PyObject *buf, const unsigned char **data, Py_ssize_t *size)
{
    if (PyBytes_CheckExact(buf)) {
        *data = (const unsigned char *)PyBytes_AS_STRING(buf);
        *size = PyBytes_GET_SIZE(buf);
        return 1;
    }
    if (PyByteArray_CheckExact(buf)) {
        *data = (const unsigned char *)PyByteArray_AS_STRING(buf);
        *size = PyByteArray_GET_SIZE(buf);
        return 1;
    }
    return 0;
}

/* The top-level AVP header at *off: its code, flags|length word and length, and *off moved past it (padded).
 * 0 when the header does not fit the message (the Python walk raises there). */
static int next_avp(const unsigned char *p, Py_ssize_t end, Py_ssize_t *off, uint32_t *code, uint32_t *flags_len,
                    Py_ssize_t *length)
{
    if (end - *off < 8)
        return 0;
    *code = word_at(p + *off);
    *flags_len = word_at(p + *off + 4);
    *length = (Py_ssize_t)(*flags_len & 0xFFFFFF);
    if (*length < 8 || *off + *length > end)
        return 0;
    *off += (*length + 3) & ~(Py_ssize_t)3;
    return 1;
}

static int same_ignoring_ascii_case(const unsigned char *a, const unsigned char *lower, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + ('a' - 'A'));
        if (c != lower[i])
            return 0;
    }
    return 1;
}

static PyObject *relay_facts(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "relay_facts(buf, own: bytes)");
        return NULL;
    }
    const unsigned char *p;
    Py_ssize_t end;
    if (!frame_bytes(args[0], &p, &end))
        Py_RETURN_NONE;
    const unsigned char *own = (const unsigned char *)PyBytes_AS_STRING(args[1]);
    Py_ssize_t own_len = PyBytes_GET_SIZE(args[1]);
    Py_ssize_t host_at = -1, host_len = 0, realm_at = -1, realm_len = 0, off = 20;
    int looped = 0;
    while (off < end) {
        Py_ssize_t at = off, length;
        uint32_t code, flags_len;
        if (!next_avp(p, end, &off, &code, &flags_len, &length))
            Py_RETURN_NONE;
        if (!(flags_len & 0x80000000u)) {
            if (code == 293) {
                host_at = at + 8;
                host_len = length - 8;
            } else if (code == 283) {
                realm_at = at + 8;
                realm_len = length - 8;
            } else if (code == 282 && length - 8 == own_len && same_ignoring_ascii_case(p + at + 8, own, own_len)) {
                looped = 1;
            }
        }
    }
    PyObject *host = host_at < 0 ? Py_NewRef(Py_None) : PyBytes_FromStringAndSize((const char *)p + host_at, host_len);
    PyObject *realm = realm_at < 0 ? Py_NewRef(Py_None) : PyBytes_FromStringAndSize((const char *)p + realm_at, realm_len);
    if (host == NULL || realm == NULL) {
        Py_XDECREF(host);
        Py_XDECREF(realm);
        return NULL;
    }
    PyObject *out = PyTuple_New(3);
    if (out == NULL) {
        Py_DECREF(host);
        Py_DECREF(realm);
        return NULL;
    }
    PyTuple_SET_ITEM(out, 0, host);
    PyTuple_SET_ITEM(out, 1, realm);
    PyTuple_SET_ITEM(out, 2, PyBool_FromLong(looped));
    return out;
}

static PyObject *result_code(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 1) {
        PyErr_SetString(PyExc_TypeError, "result_code(buf)");
        return NULL;
    }
    const unsigned char *p;
    Py_ssize_t end, off = 20;
    if (!frame_bytes(args[0], &p, &end))
        Py_RETURN_FALSE;
    while (off < end) {
        Py_ssize_t at = off, length;
        uint32_t code, flags_len;
        if (!next_avp(p, end, &off, &code, &flags_len, &length))
            Py_RETURN_FALSE;
        if (code == 268 && length == 12 && !(flags_len & 0x80000000u))
            return PyLong_FromUnsignedLong(word_at(p + at + 8));
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"check", (PyCFunction)(void (*)(void))check, METH_FASTCALL,
     "check(buf, off, end, rules, out, unlisted, any_rules, avp_type) -> bool: True if buf[off:end] passes "
     "the CCF check of rules (appending an Avp per AVP of this level to out); False: walk it in Python."},
    {"relay_facts", (PyCFunction)(void (*)(void))relay_facts, METH_FASTCALL,
     "relay_facts(buf, own) -> (destination_host, destination_realm, looped) or None: walk it in Python."},
    {"result_code", (PyCFunction)(void (*)(void))result_code, METH_FASTCALL,
     "result_code(buf) -> the top-level Result-Code, None, or False: walk it in Python."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__speedups(void)
{
    struct { PyObject **slot; const char *text; } names[] = {
        {&s_int_entries, "int_entries"}, {&s_slots, "slots"}, {&s_required_slots, "required_slots"},
        {&s_rules, "rules"}, {&s_decode, "decode"}, {&s_enum_names, "enum_names"},
        {&s_code, "code"}, {&s_flags, "flags"}, {&s_vendor, "vendor"}, {&s_data, "data"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        *names[i].slot = PyUnicode_InternFromString(names[i].text);
        if (*names[i].slot == NULL)
            return NULL;
    }
    return PyModule_Create(&module);
}
