/* A folded fastText model (megamath.classify.model.fold) scored without fastText: the same rows, the
 * same arithmetic, the same probabilities as fastText's `predict(lines, k=-1)` on it. fastText reads
 * a line through a C++ stream one character at a time and looks each word up in a table of 30 million
 * slots; on code files that was most of the cost of scoring. Here a line's UTF-8 is split in place.
 *
 * What fastText does with a line, and so this (its dictionary.cc, model.cc and loss.cc; supervised,
 * no subwords): the words are the runs between the bytes ' ' \n \r \t \v \f \0, up to the first
 * "</s>", and the end of the line is that word (one is added if the line has none). A word that starts
 * with the label prefix is a label and is skipped. Every other word has a 32-bit FNV-1a hash of its
 * bytes (each byte read as a signed char); one in the vocabulary adds its row. Then every run of 2..n
 * consecutive word hashes (n = wordNgrams), as h = h * 116049371 + next (64 bits, each hash read as a
 * signed 32-bit number), adds row nwords + h % bucket. The hidden vector is the float sum of the rows in that order times
 * float(1 / rows); the outputs are the output matrix times it; a softmax (or fastText's table of
 * sigmoids for one-vs-all) gives p, which fastText's predict reports as exp(log(p + 1e-5)). A line
 * with no rows has no prediction: every probability 0. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define SIGMOID_TABLE_SIZE 512
#define MAX_SIGMOID 8

typedef struct {
    uint32_t hash;
    int32_t id;
} Slot;

typedef struct {
    PyObject_HEAD
    /* the vocabulary: an open-addressing table of (hash, word id; -1 empty) over words kept in one pool */
    Slot *slots;
    uint32_t mask;
    Py_ssize_t *word_starts;
    char *pool;
    Py_ssize_t words;
    const float *rows;      /* (words + bucket) × dim, held by rows_object */
    const float *output;    /* labels × dim, held by output_object */
    PyObject *rows_object;
    PyObject *output_object;
    int dim, labels, word_ngrams, ova;
    uint64_t bucket;
    double inverse_bucket;
    char label_prefix[64];
    Py_ssize_t label_prefix_length;
    float sigmoid[SIGMOID_TABLE_SIZE + 1];
} FoldedModel;

static uint32_t fnv(const char *bytes, Py_ssize_t length) {
    uint32_t h = 2166136261u;
    for (Py_ssize_t i = 0; i < length; i++) {
        h ^= (uint32_t)(int8_t)bytes[i];
        h *= 16777619u;
    }
    return h;
}

/* words are short: a loop beats a call to memcmp */
static inline int same_bytes(const char *a, const char *b, Py_ssize_t length) {
    for (Py_ssize_t i = 0; i < length; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static int32_t word_id(const FoldedModel *m, const char *bytes, Py_ssize_t length, uint32_t h) {
    for (uint32_t slot = h & m->mask;; slot = (slot + 1) & m->mask) {
        int32_t id = m->slots[slot].id;
        if (id < 0)
            return -1;
        if (m->slots[slot].hash == h) {
            Py_ssize_t start = m->word_starts[id];
            if (m->word_starts[id + 1] - start == length && same_bytes(m->pool + start, bytes, length))
                return id;
        }
    }
}

static void folded_dealloc(FoldedModel *m) {
    PyMem_Free(m->slots);
    PyMem_Free(m->word_starts);
    PyMem_Free(m->pool);
    Py_XDECREF(m->rows_object);
    Py_XDECREF(m->output_object);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static int folded_init(FoldedModel *m, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"words", "rows", "output", "dim", "bucket", "word_ngrams", "ova", "label_prefix", NULL};
    PyObject *words, *rows, *output;
    long long bucket;
    const char *prefix;
    Py_ssize_t prefix_length;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!SSiLips#", keywords, &PyList_Type, &words, &rows, &output,
                                     &m->dim, &bucket, &m->word_ngrams, &m->ova, &prefix, &prefix_length))
        return -1;
    if (m->slots) {
        PyErr_SetString(PyExc_RuntimeError, "FoldedModel is initialized once");
        return -1;
    }
    m->words = PyList_GET_SIZE(words);
    if (m->dim < 1 || bucket < 0 || prefix_length >= (Py_ssize_t)sizeof m->label_prefix) {
        PyErr_SetString(PyExc_ValueError, "FoldedModel: dim must be >= 1, bucket >= 0, the label prefix short");
        return -1;
    }
    m->bucket = (uint64_t)bucket;
    m->inverse_bucket = bucket ? 1.0 / (double)bucket : 0.0;
    Py_ssize_t row_count = m->words + (Py_ssize_t)bucket;
    if (PyBytes_GET_SIZE(rows) != row_count * m->dim * (Py_ssize_t)sizeof(float) ||
        PyBytes_GET_SIZE(output) % (m->dim * (Py_ssize_t)sizeof(float)) != 0 || PyBytes_GET_SIZE(output) == 0) {
        PyErr_SetString(PyExc_ValueError, "FoldedModel: rows must be (words + bucket) × dim floats, output labels × dim");
        return -1;
    }
    m->labels = (int)(PyBytes_GET_SIZE(output) / (m->dim * (Py_ssize_t)sizeof(float)));
    Py_INCREF(rows);
    Py_INCREF(output);
    m->rows_object = rows;
    m->output_object = output;
    m->rows = (const float *)PyBytes_AS_STRING(rows);
    m->output = (const float *)PyBytes_AS_STRING(output);
    memcpy(m->label_prefix, prefix, prefix_length);
    m->label_prefix_length = prefix_length;
    for (int i = 0; i <= SIGMOID_TABLE_SIZE; i++) {
        float x = (float)(i * 2 * MAX_SIGMOID) / SIGMOID_TABLE_SIZE - MAX_SIGMOID;
        m->sigmoid[i] = (float)(1.0 / (1.0 + expf(-x)));  /* std::exp of a float */
    }

    Py_ssize_t pool_size = 0;
    for (Py_ssize_t i = 0; i < m->words; i++) {
        Py_ssize_t length;
        if (!PyUnicode_Check(PyList_GET_ITEM(words, i)) || !PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(words, i), &length)) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "FoldedModel: words must be str");
            return -1;
        }
        pool_size += length;
    }
    uint32_t slots = 1;
    while (slots < 2 * (uint64_t)m->words + 1)
        slots <<= 1;
    m->mask = slots - 1;
    m->slots = PyMem_Malloc(sizeof(Slot) * slots);
    m->word_starts = PyMem_Malloc(sizeof(Py_ssize_t) * (m->words + 1));
    m->pool = PyMem_Malloc(pool_size + 1);
    if (!m->slots || !m->word_starts || !m->pool) {
        PyErr_NoMemory();
        return -1;
    }
    for (uint32_t slot = 0; slot < slots; slot++)
        m->slots[slot].id = -1;
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < m->words; i++) {
        Py_ssize_t length;
        const char *bytes = PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(words, i), &length);
        memcpy(m->pool + at, bytes, length);
        m->word_starts[i] = at;
        at += length;
    }
    m->word_starts[m->words] = at;
    for (Py_ssize_t i = 0; i < m->words; i++) {  /* fastText's vocabulary has each word once: first id wins */
        Py_ssize_t length = m->word_starts[i + 1] - m->word_starts[i];
        uint32_t h = fnv(m->pool + m->word_starts[i], length);
        if (word_id(m, m->pool + m->word_starts[i], length, h) >= 0)
            continue;
        uint32_t slot = h & m->mask;
        while (m->slots[slot].id >= 0)
            slot = (slot + 1) & m->mask;
        m->slots[slot] = (Slot){h, (int32_t)i};
    }
    return 0;
}

typedef struct {
    int32_t *items;
    Py_ssize_t length, capacity;
} Ints;

static int push(Ints *v, int32_t item) {
    if (v->length == v->capacity) {
        Py_ssize_t capacity = v->capacity ? 2 * v->capacity : 1024;
        int32_t *items = PyMem_Realloc(v->items, sizeof(int32_t) * capacity);
        if (!items) {
            PyErr_NoMemory();
            return -1;
        }
        v->items = items;
        v->capacity = capacity;
    }
    v->items[v->length++] = item;
    return 0;
}

static inline int is_separator(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' || c == '\0';
}

/* h % bucket without a 64-bit division (tens of cycles, for each n-gram): a quotient from the double
 * reciprocal, off by a few at most, then the remainder corrected. */
static inline uint64_t bucket_of(const FoldedModel *m, uint64_t h) {
    if (m->bucket < 4096)  /* the quotient could pass 2^64 */
        return h % m->bucket;
    uint64_t quotient = (uint64_t)((double)h * m->inverse_bucket);
    int64_t remainder = (int64_t)(h - quotient * m->bucket);
    while (remainder < 0)
        remainder += (int64_t)m->bucket;
    while (remainder >= (int64_t)m->bucket)
        remainder -= (int64_t)m->bucket;
    return (uint64_t)remainder;
}

/* A word of the line: its row if in the vocabulary, its hash unless a label. */
static int read_word(const FoldedModel *m, const char *word, Py_ssize_t length, Ints *rows, Ints *hashes) {
    if (length >= m->label_prefix_length && memcmp(word, m->label_prefix, m->label_prefix_length) == 0)
        return 0;
    uint32_t h = fnv(word, length);
    int32_t id = word_id(m, word, length, h);
    if (id >= 0 && push(rows, id) < 0)
        return -1;
    return push(hashes, (int32_t)h);
}

/* The probabilities of one line (UTF-8, no newline) into out[labels]. */
static int score_line(const FoldedModel *m, const char *line, Py_ssize_t length, Ints *rows, Ints *hashes,
                      float *hidden, float *logits, double *out) {
    rows->length = hashes->length = 0;
    Py_ssize_t start = 0;
    int ended = 0;
    for (Py_ssize_t i = 0; i <= length && !ended; i++) {
        if (i < length && !is_separator(line[i]))
            continue;
        if (i > start) {
            if (read_word(m, line + start, i - start, rows, hashes) < 0)
                return -1;
            ended = i - start == 4 && memcmp(line + start, "</s>", 4) == 0;
        }
        start = i + 1;
    }
    if (!ended && read_word(m, "</s>", 4, rows, hashes) < 0)
        return -1;
    if (m->bucket)
        for (Py_ssize_t i = 0; i < hashes->length; i++) {
            uint64_t h = (uint64_t)(int64_t)hashes->items[i];
            for (Py_ssize_t j = i + 1; j < hashes->length && j < i + m->word_ngrams; j++) {
                h = h * 116049371u + (uint64_t)(int64_t)hashes->items[j];
                Py_ssize_t row = m->words + (Py_ssize_t)bucket_of(m, h);
                __builtin_prefetch(m->rows + row * m->dim);  /* rows of a large table, read below */
                if (push(rows, (int32_t)row) < 0)
                    return -1;
            }
        }
    if (rows->length == 0) {
        for (int l = 0; l < m->labels; l++)
            out[l] = 0.0;
        return 0;
    }
    float scale = (float)(1.0 / rows->length);
    for (int k = 0; k < m->dim; k++) {  /* each component summed over the rows in fastText's order */
        float sum = 0.0f;
        for (Py_ssize_t r = 0; r < rows->length; r++)
            sum += m->rows[(Py_ssize_t)rows->items[r] * m->dim + k];
        hidden[k] = sum * scale;
    }
    for (int l = 0; l < m->labels; l++) {
        float d = 0.0f;
        for (int k = 0; k < m->dim; k++)
            d += m->output[l * m->dim + k] * hidden[k];
        logits[l] = d;
    }
    if (m->ova) {
        for (int l = 0; l < m->labels; l++) {
            float x = logits[l];
            logits[l] = !(x >= -MAX_SIGMOID) ? 0.0f : x > MAX_SIGMOID ? 1.0f  /* NaN too: no index from it */
                      : m->sigmoid[(int64_t)((x + MAX_SIGMOID) * SIGMOID_TABLE_SIZE / MAX_SIGMOID / 2)];
        }
    } else {
        float max = logits[0], z = 0.0f;
        for (int l = 0; l < m->labels; l++)
            max = logits[l] > max ? logits[l] : max;
        for (int l = 0; l < m->labels; l++) {
            logits[l] = (float)exp(logits[l] - max);
            z += logits[l];
        }
        for (int l = 0; l < m->labels; l++)
            logits[l] /= z;
    }
    for (int l = 0; l < m->labels; l++)
        out[l] = (double)expf((float)log(logits[l] + 1e-5));
    return 0;
}

static PyObject *folded_probabilities(FoldedModel *m, PyObject *lines) {
    if (!PyList_Check(lines)) {
        PyErr_SetString(PyExc_TypeError, "probabilities() takes a list of str");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(lines);
    PyObject *result = PyBytes_FromStringAndSize(NULL, n * m->labels * (Py_ssize_t)sizeof(double));
    float *work = PyMem_Malloc(sizeof(float) * (m->dim + m->labels));
    Ints rows = {0}, hashes = {0};
    if (!result || !work)
        goto failed;
    double *out = (double *)PyBytes_AS_STRING(result);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *line = PyList_GET_ITEM(lines, i), *replaced = NULL;
        if (!PyUnicode_Check(line)) {
            PyErr_SetString(PyExc_TypeError, "probabilities() takes a list of str");
            goto failed;
        }
        Py_ssize_t length;
        const char *bytes = PyUnicode_AsUTF8AndSize(line, &length);
        if (!bytes) {  /* an unpaired surrogate, which UTF-8 cannot hold: read as fastText's binding is given it */
            PyErr_Clear();
            if (!(replaced = PyUnicode_AsEncodedString(line, "utf-8", "replace")))
                goto failed;
            bytes = PyBytes_AS_STRING(replaced);
            length = PyBytes_GET_SIZE(replaced);
        }
        if (memchr(bytes, '\n', length)) {
            Py_XDECREF(replaced);
            PyErr_SetString(PyExc_ValueError, "a line to score holds a newline (one line a document)");
            goto failed;
        }
        int status = score_line(m, bytes, length, &rows, &hashes, work, work + m->dim, out + i * m->labels);
        Py_XDECREF(replaced);
        if (status < 0)
            goto failed;
    }
    PyMem_Free(work);
    PyMem_Free(rows.items);
    PyMem_Free(hashes.items);
    return result;
failed:
    Py_XDECREF(result);
    PyMem_Free(work);
    PyMem_Free(rows.items);
    PyMem_Free(hashes.items);
    return NULL;
}

static PyMethodDef folded_methods[] = {
    {"probabilities", (PyCFunction)folded_probabilities, METH_O,
     "probabilities(lines) -> bytes: float64 (lines × labels), fastText's predict(lines, k=-1) in label order."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject FoldedModelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "megamath.classify._folded.FoldedModel",
    .tp_basicsize = sizeof(FoldedModel),
    .tp_dealloc = (destructor)folded_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "FoldedModel(words, rows, output, dim, bucket, word_ngrams, ova, label_prefix): a folded "
              "supervised fastText model without subwords (see the module source).",
    .tp_methods = folded_methods,
    .tp_init = (initproc)folded_init,
    .tp_new = PyType_GenericNew,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_folded", "A folded fastText model, scored in C.", -1, NULL};

PyMODINIT_FUNC PyInit__folded(void) {
    if (PyType_Ready(&FoldedModelType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    Py_INCREF(&FoldedModelType);
    if (PyModule_AddObject(m, "FoldedModel", (PyObject *)&FoldedModelType) < 0) {
        Py_DECREF(&FoldedModelType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
