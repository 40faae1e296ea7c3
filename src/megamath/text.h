/* A str read character by character, for megamath's compiled passes (classify/_prose.c,
 * code/_tokens.c): its kind, data and length, whether it is ASCII, and the tests both make. */

#ifndef MEGAMATH_TEXT_H
#define MEGAMATH_TEXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct {
    PyObject *object;
    int kind;
    const void *data;
    Py_ssize_t length;
    int ascii;
} Text;

static inline Text text_of(PyObject *text) {
    Text t = {text, PyUnicode_KIND(text), PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text), PyUnicode_IS_ASCII(text)};
    return t;
}

/* The character at i, or 0 past the end: 0 is no letter, digit, space or character either pass tests
 * for, so every test reads the end as a real NUL reads (a symbol), which is what `re` gives. */
static inline Py_UCS4 at(const Text *t, Py_ssize_t i) {
    return i < t->length ? PyUnicode_READ(t->kind, t->data, i) : 0;
}

static inline int is_ascii_lower(Py_UCS4 c) { return c >= 'a' && c <= 'z'; }

static inline int is_ascii_upper(Py_UCS4 c) { return c >= 'A' && c <= 'Z'; }

static inline int is_ascii_digit(Py_UCS4 c) { return c >= '0' && c <= '9'; }

#endif
