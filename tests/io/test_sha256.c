/* test_sha256.c — io/sha256.c against the FIPS 180-4 test vectors and against coreutils'
 * `sha256sum` on files of every padding case (empty, 55/56/63/64/65/119/120 bytes) and on
 * files larger than the 16 KiB read buffer. Serial; no MPI. */
#include "io_test.h"
#include <stdlib.h>

/* sha256sum's digest of path into hex (empty string if it could not run). */
static void Sha256sum(const char *path, char hex[65])
{
  char  cmd[512];
  FILE *p;
  hex[0] = '\0';
  snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
  if (!(p = popen(cmd, "r"))) return;
  if (fscanf(p, "%64s", hex) != 1) hex[0] = '\0';
  pclose(p);
}

static void WriteBytes(const char *path, const unsigned char *b, size_t n)
{
  FILE *fp = fopen(path, "wb");
  if (n) fwrite(b, 1, n, fp);
  fclose(fp);
}

int main(void)
{
  static const struct {
    const char *text, *hex;
  } vectors[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlm"
       "nopqrsmnopqrstnopqrstu",
       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"}};
  static const size_t sizes[] = {0,   1,   55,    56,    63,    64,     65,     119,
                                 120, 128, 16383, 16384, 16385, 100000, 1048583};
  unsigned char      *data    = malloc(1048583);
  char                hex[65], ref[65], path[64];
  unsigned            x    = 12345u;
  int                 ncmp = 0;

  for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
    GyreHashBuffer(vectors[i].text, strlen(vectors[i].text), hex);
    CHECK(!strcmp(hex, vectors[i].hex), "vector %zu: %s", i, hex);
  }
  { /* one million 'a' (FIPS 180-2, appendix B.3) */
    memset(data, 'a', 1000000);
    GyreHashBuffer(data, 1000000, hex);
    CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
          "million a: %s", hex);
  }
  for (size_t i = 0; i < 1048583; i++) { /* a reproducible byte stream with every value */
    x       = x * 1103515245u + 12345u;
    data[i] = (unsigned char) (x >> 16);
  }
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char buf[65];
    snprintf(path, sizeof path, "io_sha256_%zu.bin", sizes[i]);
    WriteBytes(path, data, sizes[i]);
    CHECK_OK(GyreHashFile(path, hex));
    GyreHashBuffer(data, sizes[i], buf);
    CHECK(!strcmp(hex, buf), "%zu bytes: file %s, buffer %s", sizes[i], hex, buf);
    Sha256sum(path, ref);
    CHECK(strlen(ref) == 64, "sha256sum did not run on %s", path);
    CHECK(!strcmp(hex, ref), "%zu bytes: %s, sha256sum %s", sizes[i], hex, ref);
    ncmp += !strcmp(hex, ref);
    remove(path);
  }
  CHECK_FAILS(GyreHashFile("io_sha256_missing.bin", hex), GYRE_ERR_IO,
              "cannot open 'io_sha256_missing.bin': No such file or directory");
  free(data);
  printf("sha256: %d files agree with sha256sum, %d failures\n", ncmp, io_test_failures);
  return io_test_failures != 0;
}
