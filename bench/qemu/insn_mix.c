/*
 * insn_mix.c - a qemu TCG plugin counting the guest instructions a program
 * executes, by mnemonic and register kind, for bench/qemu/run.mjs.
 *
 *   qemu-arm -cpu cortex-a9 -plugin ./insn_mix.so,out=FILE program ...
 *
 * At translation, every instruction of a block is disassembled once
 * (qemu_plugin_insn_disas) and reduced to a key: the mnemonic, then the kind
 * of register it works on - "q" (128-bit NEON), "d" (64-bit), "s" (VFP
 * single) - and, for vld/vst, how many d registers it moves ("vld1.32 2d").
 * The block gets one inline counter (no callback: a few host instructions
 * per executed block). At exit, each block's count times its keys gives the
 * executed count of every key, written to FILE as "COUNT KEY" lines; the
 * classes and the cycle model are the reader's business.
 * With by=symbol the key is the function instead (qemu_plugin_insn_symbol),
 * to see where the instructions go.
 * One guest thread is assumed (the counters are not atomic).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MAX_KEYS 4096
#define KEY_LEN 40

typedef struct block {
  uint64_t executed;
  struct block *next;
  size_t n;
  uint16_t keys[]; /* index into key_names, one per instruction */
} block;

static char key_names[MAX_KEYS][KEY_LEN];
static size_t key_count;
static block *blocks;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char out_path[512] = "insn_mix.txt";
static int by_symbol;

/* "vmla.f32 q8, q9, d0[1]" -> "vmla.f32 q"; "vld1.32 {d16, d17}, [r0]!" -> "vld1.32 2d". */
static void make_key(const char *disas, char *key) {
  size_t m = 0;
  while (disas[m] && !isspace((unsigned char)disas[m]) && m < KEY_LEN - 8) m++;
  memcpy(key, disas, m);
  key[m] = 0;
  int q = 0, d = 0, s = 0;
  for (const char *p = disas + m; *p; p++) {
    /* A register is a letter and digits, not inside a longer word. */
    if ((p == disas || !isalnum((unsigned char)p[-1])) && isdigit((unsigned char)p[1])) {
      const char *e = p + 1;
      while (isdigit((unsigned char)*e)) e++;
      if (isalnum((unsigned char)*e)) continue;
      if (*p == 'q') q++;
      if (*p == 'd') d++;
      if (*p == 's') s++;
    }
  }
  if (key[0] == 'v' && (strncmp(key, "vld", 3) == 0 || strncmp(key, "vst", 3) == 0) &&
      isdigit((unsigned char)key[3]))
    snprintf(key + m, 8, " %dd", (d + 2 * q) % 100);
  else
    snprintf(key + m, 8, "%s", q ? " q" : d ? " d" : s ? " s" : "");
}

static uint16_t intern(const char *key) {
  for (size_t i = 0; i < MAX_KEYS; i++)
    if (strcmp(key_names[i], key) == 0) return (uint16_t)i;
  if (key_count >= MAX_KEYS - 1) { /* the last slot gathers the rest (never reached here) */
    snprintf(key_names[MAX_KEYS - 1], KEY_LEN, "other");
    return MAX_KEYS - 1;
  }
  snprintf(key_names[key_count], KEY_LEN, "%s", key);
  return (uint16_t)key_count++;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  const size_t n = qemu_plugin_tb_n_insns(tb);
  block *b = calloc(1, sizeof *b + n * sizeof b->keys[0]);
  if (b == NULL) return;
  b->n = n;
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < n; i++) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
    char key[KEY_LEN];
    if (by_symbol) {
      const char *sym = qemu_plugin_insn_symbol(insn);
      snprintf(key, sizeof key, "%s", sym ? sym : "?");
    } else {
      char *text = qemu_plugin_insn_disas(insn);
      make_key(text ? text : "?", key);
      free(text);
    }
    b->keys[i] = intern(key);
  }
  b->next = blocks;
  blocks = b;
  pthread_mutex_unlock(&lock);
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->executed, 1);
}

static void on_guest_exit(qemu_plugin_id_t id, void *data) {
  (void)id, (void)data;
  static uint64_t counts[MAX_KEYS];
  for (const block *b = blocks; b != NULL; b = b->next)
    for (size_t i = 0; i < b->n; i++) counts[b->keys[i]] += b->executed;
  FILE *f = fopen(out_path, "w");
  if (f == NULL) {
    qemu_plugin_outs("insn_mix: cannot write the output file\n");
    return;
  }
  for (size_t i = 0; i < MAX_KEYS; i++)
    if (counts[i] > 0) fprintf(f, "%llu %s\n", (unsigned long long)counts[i], key_names[i]);
  fclose(f);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv) {
  (void)info;
  for (int i = 0; i < argc; i++)
    if (strncmp(argv[i], "out=", 4) == 0) snprintf(out_path, sizeof out_path, "%s", argv[i] + 4);
    else if (strcmp(argv[i], "by=symbol") == 0) by_symbol = 1;
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_guest_exit, NULL);
  return 0;
}
