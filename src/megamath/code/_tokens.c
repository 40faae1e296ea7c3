/* The code normalization of megamath.code.normalize, compiled: a source file → one line of lower-case
 * tokens separated by single spaces. The regular-expression engine, which tried up to seventeen
 * alternatives at each piece, was four fifths of the cost of scoring a file; this reads each character
 * about once.
 *
 * A piece starts at any character but whitespace and `_` and is, by its first character:
 *   a–z        then a–z, then 0–9                           (log10, float32)
 *   A–Z        then a–z and then 0–9 if a–z follows           (Element, Vec3)
 *              else the run of A–Z, less its last letter if a–z follows it, then 0–9
 *                                                         (HTMLParser → HTML Parser, MAX2 → MAX2)
 *   a digit    digits and underscores, then .digits, then e/E [+-] digits: written `0`
 *   ** //  << >>  with an optional `=`;  -> => ::  X= for X in - + * / % & | ^ ! = < >;  && || ++ --
 *   any other character that is neither a word character nor whitespace: itself
 * and a word character that is none of these (a letter outside ASCII, ²) starts no piece: it is skipped.
 * Digits, words and spaces are Python's `re`'s for str patterns (\d: Unicode decimal; \w: alphanumeric
 * or `_`; \s: Unicode whitespace), so that tests/test_code_tokens.py can hold the regular expression
 * this must equal. Letters are written lower case. */

#include "../text.h"

static inline int is_digit(Py_UCS4 c) { return c < 128 ? is_ascii_digit(c) : Py_UNICODE_ISDECIMAL(c); }

static inline int is_space(Py_UCS4 c) {
    return c < 128 ? c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f) : Py_UNICODE_ISSPACE(c);
}

static Py_ssize_t skip_ascii_digits(const Text *t, Py_ssize_t i) {
    while (is_ascii_digit(at(t, i)))
        i++;
    return i;
}

static Py_ssize_t skip_lower(const Text *t, Py_ssize_t i) {
    while (is_ascii_lower(at(t, i)))
        i++;
    return i;
}

static Py_ssize_t skip_digits(const Text *t, Py_ssize_t i) {
    while (is_digit(at(t, i)))
        i++;
    return i;
}

/* The end of a number that starts at i. */
static Py_ssize_t number_end(const Text *t, Py_ssize_t i) {
    Py_ssize_t j = i + 1;
    while (is_digit(at(t, j)) || at(t, j) == '_')
        j++;
    if (at(t, j) == '.' && is_digit(at(t, j + 1)))
        j = skip_digits(t, j + 2);
    if (at(t, j) == 'e' || at(t, j) == 'E') {
        Py_ssize_t k = j + 1;
        if (at(t, k) == '+' || at(t, k) == '-')
            k++;
        if (is_digit(at(t, k)))
            j = skip_digits(t, k + 1);
    }
    return j;
}

/* The end of an operator or other symbol c that starts at i. */
static Py_ssize_t symbol_end(const Text *t, Py_ssize_t i, Py_UCS4 c) {
    Py_UCS4 next = at(t, i + 1);
    switch (c) {
    case '*': case '/': case '<': case '>':
        if (next == c)
            return at(t, i + 2) == '=' ? i + 3 : i + 2;
        break;
    case '-': case '=':
        if (next == '>')
            return i + 2;
        break;
    case ':':
        return next == ':' ? i + 2 : i + 1;
    }
    switch (c) {
    case '-': case '+': case '*': case '/': case '%': case '&': case '|': case '^': case '!': case '=': case '<': case '>':
        if (next == '=')
            return i + 2;
    }
    switch (c) {
    case '&': case '|': case '+': case '-':
        if (next == c)
            return i + 2;
    }
    return i + 1;
}

/* The end of the piece that starts at i with c (no whitespace nor `_`), or -1 if none does; *number:
 * whether it is a number. */
static Py_ssize_t piece_end(const Text *t, Py_ssize_t i, Py_UCS4 c, int *number) {
    *number = 0;
    if (is_ascii_lower(c))
        return skip_ascii_digits(t, skip_lower(t, i + 1));
    if (is_ascii_upper(c)) {
        Py_ssize_t j = i + 1;
        if (is_ascii_lower(at(t, j)))
            return skip_ascii_digits(t, skip_lower(t, j));
        while (is_ascii_upper(at(t, j)))
            j++;
        if (is_ascii_lower(at(t, j)))  /* the run's last capital starts the next word */
            return j - 1;
        return skip_ascii_digits(t, j);
    }
    if (is_digit(c)) {
        *number = 1;
        return number_end(t, i);
    }
    if (c >= 128 && Py_UNICODE_ISALNUM(c))
        return -1;
    return symbol_end(t, i, c);
}

static PyObject *code_tokens(PyObject *module, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "code_tokens() takes a str");
        return NULL;
    }
    if (PyUnicode_READY(text) < 0)
        return NULL;
    Text t = text_of(text);
    /* a piece of one character and its space is the longest output a character can give */
    Py_UCS4 *line = PyMem_Malloc(sizeof(Py_UCS4) * (2 * t.length + 1));
    if (line == NULL)
        return PyErr_NoMemory();
    Py_ssize_t length = 0, i = 0;
    while (i < t.length) {
        Py_UCS4 c = PyUnicode_READ(t.kind, t.data, i);
        if (c == '_' || is_space(c)) {
            i++;
            continue;
        }
        int number;
        Py_ssize_t end = piece_end(&t, i, c, &number);
        if (end < 0) {
            i++;
            continue;
        }
        if (length)
            line[length++] = ' ';
        if (number)
            line[length++] = '0';
        else
            for (Py_ssize_t k = i; k < end; k++) {
                Py_UCS4 d = PyUnicode_READ(t.kind, t.data, k);
                line[length++] = is_ascii_upper(d) ? d + ('a' - 'A') : d < 128 ? d : Py_UNICODE_TOLOWER(d);
            }
        i = end;
    }
    PyObject *result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, line, length);
    PyMem_Free(line);
    return result;
}

static PyMethodDef methods[] = {
    {"code_tokens", code_tokens, METH_O,
     "code_tokens(text) -> str: a source file's pieces, lower case, numbers as 0, as one line (see the module source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_tokens", "megamath's compiled code tokenizer.", 0, methods};

PyMODINIT_FUNC PyInit__tokens(void) { return PyModule_Create(&module); }
