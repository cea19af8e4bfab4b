/* Out-of-range values of the C API's enums, as a C caller can pass them (any int converts to
 * an enum in C): every call rejects them with strataInvalidArgument and a message naming the
 * argument and the value, before using them. The library reads them as integers (the header
 * gives the enums int as their underlying type in C++), so an UndefinedBehaviorSanitizer build
 * reports no invalid enum load. Exits non-zero on the first failed expectation. */
#include <stdio.h>
#include <string.h>

#include <strata/strata.h>

static int failures = 0;

static void expect(strataResult_t got, const char* call, strataComm_t comm, const char* needle) {
  const char* msg = strataGetLastError(comm);
  if (got != strataInvalidArgument) {
    fprintf(stderr, "FAIL %s: returned %d (%s), expected strataInvalidArgument\n", call, (int)got,
            strataGetErrorString(got));
    ++failures;
  } else if (strstr(msg, needle) == NULL) {
    fprintf(stderr, "FAIL %s: message \"%s\" does not contain \"%s\"\n", call, msg, needle);
    ++failures;
  }
}

int main(void) {
  strataComm_t comm;
  float x[4] = {1, 2, 3, 4}, y[4];
  const int bad[2] = {99, -1};
  int i;
  char needle[64];
  if (strataCommInitAll(&comm, 1, NULL) != strataSuccess) {
    fprintf(stderr, "init failed: %s\n", strataGetLastError(NULL));
    return 1;
  }
  for (i = 0; i < 2; ++i) {
    const int v = bad[i];
    snprintf(needle, sizeof needle, "datatype %d", v);
    expect(strataAllReduce(x, y, 4, (strataDataType_t)v, strataSum, comm, NULL),
           "strataAllReduce(datatype)", comm, needle);
    expect(strataBroadcast(x, y, 4, (strataDataType_t)v, 0, comm, NULL),
           "strataBroadcast(datatype)", comm, needle);
    expect(strataBcast(x, 4, (strataDataType_t)v, 0, comm, NULL), "strataBcast(datatype)", comm,
           needle);
    expect(strataSend(x, 4, (strataDataType_t)v, 0, comm, NULL), "strataSend(datatype)", comm,
           needle);
    snprintf(needle, sizeof needle, "op %d is not a strataRedOp_t", v);
    expect(strataAllReduce(x, y, 4, strataFloat32, (strataRedOp_t)v, comm, NULL),
           "strataAllReduce(op)", comm, needle);
    expect(strataReduce(x, y, 4, strataFloat32, (strataRedOp_t)v, 0, comm, NULL),
           "strataReduce(op)", comm, needle);
    expect(strataReduceScatter(x, y, 4, strataFloat32, (strataRedOp_t)v, comm, NULL),
           "strataReduceScatter(op)", comm, needle);
    {
      strataRedOp_t op;
      float scalar = 2;
      snprintf(needle, sizeof needle, "datatype %d", v);
      expect(strataRedOpCreatePreMulSum(&op, &scalar, (strataDataType_t)v,
                                        strataScalarHostImmediate, comm),
             "strataRedOpCreatePreMulSum(datatype)", comm, needle);
      snprintf(needle, sizeof needle, "residence %d", v);
      expect(strataRedOpCreatePreMulSum(&op, &scalar, strataFloat32, (strataScalarResidence_t)v,
                                        comm),
             "strataRedOpCreatePreMulSum(residence)", comm, needle);
      snprintf(needle, sizeof needle, "op %d was not created", v);
      expect(strataRedOpDestroy((strataRedOp_t)v, comm), "strataRedOpDestroy(op)", comm, needle);
    }
    snprintf(needle, sizeof needle, "quant %d", v);
    expect(strataAllGatherQuantized(x, y, 4, strataFloat32, (strataQuant_t)v, 4, comm, NULL),
           "strataAllGatherQuantized(quant)", comm, needle);
    snprintf(needle, sizeof needle, "srcType %d", v);
    expect(strataAllGatherQuantized(x, y, 4, (strataDataType_t)v, strataQuantInt8, 4, comm, NULL),
           "strataAllGatherQuantized(srcType)", comm, needle);
    if (strataQuantValueBytes((strataQuant_t)v, 4) != 0) {
      fprintf(stderr, "FAIL strataQuantValueBytes(quant %d) is not 0\n", v);
      ++failures;
    }
    {
      strataMoeConfig_t mc;
      strataMoeBuffer_t buf = NULL;
      memset(&mc, 0, sizeof mc);
      mc.maxTokensPerRank = 4;
      mc.hidden = 8;
      mc.topk = 1;
      mc.numExperts = 2;
      mc.dtype = (strataDataType_t)v;
      snprintf(needle, sizeof needle, "config.dtype %d", v);
      expect(strataMoeBufferCreate(comm, &mc, &buf), "strataMoeBufferCreate(dtype)", comm, needle);
      mc.dtype = strataFloat32;
      mc.dispatchQuant = (strataMoeQuant_t)v;
      snprintf(needle, sizeof needle, "config.dispatchQuant %d", v);
      expect(strataMoeBufferCreate(comm, &mc, &buf), "strataMoeBufferCreate(dispatchQuant)", comm,
             needle);
    }
    {
      strataSimResult_t r;
      snprintf(needle, sizeof needle, "datatype %d", v);
      expect(strataSimTimingOnly(NULL, "allreduce", 4, (strataDataType_t)v, strataSum, 0, 0, &r),
             "strataSimTimingOnly(datatype)", NULL, needle);
    }
    if (strcmp(strataGetErrorString((strataResult_t)v), "unknown result code") != 0) {
      fprintf(stderr, "FAIL strataGetErrorString(%d) is \"%s\"\n", v,
              strataGetErrorString((strataResult_t)v));
      ++failures;
    }
  }
  strataCommDestroy(comm);
  if (failures == 0) printf("invalid enums: all rejected\n");
  return failures == 0 ? 0 : 1;
}
