/*
 * Strata — collective communication for large Mixture-of-Experts inference.
 *
 * The C API. Shaped after NCCL: a communicator holds a fixed group of ranks; collectives take
 * counts in elements; a NULL stream means the call completes before it returns. Every entry
 * point returns a strataResult_t and records a message naming what was wrong, readable with
 * strataGetLastError().
 */
#ifndef STRATA_STRATA_H_
#define STRATA_STRATA_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define STRATA_API __attribute__((visibility("default")))
#else
#define STRATA_API
#endif

/** The enums of this header are int-sized in C. In C++ they are given int as their underlying
 *  type, so that any int a caller passes is a value of the enum: the library checks it as an
 *  integer and rejects values outside the enumerators with strataInvalidArgument, instead of
 *  loading an out-of-range enum (undefined behaviour in C++). */
#ifdef __cplusplus
#define STRATA_ENUM_INT : int
#else
#define STRATA_ENUM_INT
#endif

/** Library version as MAJOR*10000 + MINOR*100 + PATCH. */
#define STRATA_MAJOR 0
#define STRATA_MINOR 1
#define STRATA_PATCH 0
#define STRATA_VERSION_CODE (STRATA_MAJOR * 10000 + STRATA_MINOR * 100 + STRATA_PATCH)

/** Opaque identifier of a communicator's rendezvous point; produced by strataGetUniqueId on one
 *  rank and handed to every other rank out of band (or built from STRATA_COMM_ID). */
typedef struct {
  char internal[128];
} strataUniqueId;

/** A communicator: one rank's handle on a group of ranks. */
typedef struct strataComm* strataComm_t;

/** A stream: an in-order queue of work run by a library thread. NULL means synchronous. */
typedef struct strataStream* strataStream_t;

/** Status of every call. */
typedef enum STRATA_ENUM_INT {
  strataSuccess = 0,         /**< The call succeeded. */
  strataSystemError = 2,     /**< A system call failed (socket, shared memory, thread). */
  strataInternalError = 3,   /**< A bug inside Strata. */
  strataInvalidArgument = 4, /**< An argument was invalid (NULL pointer, bad count, bad rank...). */
  strataInvalidUsage = 5,    /**< The call was valid alone but not in this state or sequence. */
  strataRemoteError = 6,     /**< A peer failed, exited or aborted. */
  strataInProgress = 7,      /**< A nonblocking operation has not completed yet. */
  strataTimeout = 8,         /**< A wait passed its deadline (strataConfig_t.timeoutMs). */
  strataNumResults = 9
} strataResult_t;

/** Element types. Float16, Bfloat16 and the Float8 types accumulate in float32 and round once. */
typedef enum STRATA_ENUM_INT {
  strataInt8 = 0,
  strataChar = 0,
  strataUint8 = 1,
  strataInt32 = 2,
  strataInt = 2,
  strataUint32 = 3,
  strataInt64 = 4,
  strataUint64 = 5,
  strataFloat16 = 6,
  strataHalf = 6,
  strataFloat32 = 7,
  strataFloat = 7,
  strataFloat64 = 8,
  strataDouble = 8,
  strataBfloat16 = 9,
  strataFloat8e4m3 = 10,
  strataFloat8e5m2 = 11,
  strataNumTypes = 12
} strataDataType_t;

/** Reduction operators. Avg sums then divides by the number of ranks once. Values from
 *  strataNumOps on are the pre-multiplied sums strataRedOpCreatePreMulSum hands out. */
typedef enum STRATA_ENUM_INT {
  strataSum = 0,
  strataProd = 1,
  strataMax = 2,
  strataMin = 3,
  strataAvg = 4,
  strataNumOps = 5
} strataRedOp_t;

/** Where the scalar of a pre-multiplied sum lives (NCCL's ncclScalarResidence_t). */
typedef enum STRATA_ENUM_INT {
  strataScalarDevice = 0,        /**< The pointer is kept and the scalar read each time a call
                                      using the op runs (Strata has no device: a host pointer,
                                      which must stay valid while such calls are queued). */
  strataScalarHostImmediate = 1  /**< The scalar is read once, by strataRedOpCreatePreMulSum. */
} strataScalarResidence_t;

/** Magic value stored in strataConfig_t.magic by STRATA_CONFIG_INITIALIZER. */
#define STRATA_CONFIG_MAGIC 0x53545243u /* "STRC" */
/** Version of the strataConfig_t layout. */
#define STRATA_CONFIG_VERSION 2u
/** Value of an integer config field meaning "use the default or the environment". */
#define STRATA_CONFIG_UNDEF_INT INT32_MIN
/** Color passed to strataCommSplit by ranks that want no new communicator. */
#define STRATA_SPLIT_NOCOLOR (-1)
/** strataCommShrink flags (as NCCL's): the parent is healthy and every rank not excluded calls. */
#define STRATA_SHRINK_DEFAULT 0
/** strataCommShrink flags: the parent failed (a rank died); it is aborted first, which ends its
 *  pending calls. The caller still destroys or aborts the parent afterwards. */
#define STRATA_SHRINK_ABORT 1

/**
 * Communicator options. Always start from STRATA_CONFIG_INITIALIZER; fields left at their
 * initial value take the environment's value (STRATA_*) or the built-in default.
 */
typedef struct {
  size_t size;           /**< sizeof(strataConfig_t), set by the initializer. */
  unsigned int magic;    /**< STRATA_CONFIG_MAGIC, set by the initializer. */
  unsigned int version;  /**< STRATA_CONFIG_VERSION, set by the initializer. */
  int blocking;          /**< 1 (default): init blocks. 0: init returns strataInProgress and the
                              caller polls strataCommGetAsyncError. */
  int timeoutMs;         /**< Deadline of every wait in ms (default STRATA_TIMEOUT_MS or 300000;
                              0 waits forever). */
  const char* commName;  /**< Name shown in logs. */
  const char* transport; /**< Transport between hosts ("shm", "ucx", "ofi"), or "sim": the
                              simulated mesh of topoFile, ranks as threads of one process
                              (strataCommInitAll). Default STRATA_TRANSPORT. */
  const char* topoFile;  /**< Topology: a preset ("hccs-8", "hccs-2x8", "hccs-4x8", "cm384")
                              or a JSON file (docs/topology.md). Default STRATA_TOPO_FILE. */
  const char* algo;      /**< Tune string pinning algorithms, e.g. "allreduce:@ring" (default
                              STRATA_ALGO). */
  const char* reducePrecision; /**< How fp16, bf16 and fp8 reduce: "wire" (default) moves them at
                              their own width and rounds once per reduction step (per hop of a
                              ring, once for one-shot); "float32" stages them in float32 and
                              rounds once per call, at twice to four times the bytes. Default
                              STRATA_REDUCE_PRECISION. Added in config version 2. */
} strataConfig_t;

/** Initial value of every strataConfig_t. */
#define STRATA_CONFIG_INITIALIZER                                                                \
  {                                                                                              \
    sizeof(strataConfig_t), STRATA_CONFIG_MAGIC, STRATA_CONFIG_VERSION, STRATA_CONFIG_UNDEF_INT, \
        STRATA_CONFIG_UNDEF_INT, NULL, NULL, NULL, NULL, NULL                                    \
  }

/** A static string describing a result code. */
STRATA_API const char* strataGetErrorString(strataResult_t result);

/** The message of the last error recorded for comm, or of the calling thread's last failed call
 *  when comm is NULL. Never NULL; empty when nothing failed. */
STRATA_API const char* strataGetLastError(strataComm_t comm);

/** Stores STRATA_VERSION_CODE of the loaded library in *version. */
STRATA_API strataResult_t strataGetVersion(int* version);

/** Creates a rendezvous point: starts a root listener in this process (or, with STRATA_COMM_ID
 *  set, describes the root that rank 0 will host) and fills *uniqueId. */
STRATA_API strataResult_t strataGetUniqueId(strataUniqueId* uniqueId);

/** Creates this rank's communicator among nranks ranks sharing commId. Collective over ranks. */
STRATA_API strataResult_t strataCommInitRank(strataComm_t* comm, int nranks, strataUniqueId commId,
                                             int rank);

/** As strataCommInitRank, with options. config may be NULL. */
STRATA_API strataResult_t strataCommInitRankConfig(strataComm_t* comm, int nranks,
                                                   strataUniqueId commId, int rank,
                                                   strataConfig_t* config);

/** Creates nranks communicators in this process, ranks 0..nranks-1, whose ranks run as threads.
 *  comms must hold nranks handles. config may be NULL. */
STRATA_API strataResult_t strataCommInitAll(strataComm_t* comms, int nranks,
                                            const strataConfig_t* config);

/** Creates a communicator from the launch environment: strata-run (STRATA_RANK, STRATA_NRANKS,
 *  STRATA_COMM_ID), mpirun (OMPI_COMM_WORLD_RANK/SIZE), Slurm (SLURM_PROCID/SLURM_NTASKS) or
 *  torchrun (RANK/WORLD_SIZE/MASTER_ADDR; the root listens on MASTER_PORT+1). Under mpirun and
 *  `srun --mpi=pmix`, rank 0's id travels through the job's PMIx server, so no variable is
 *  needed; STRATA_COMM_ID=host:port, when set, names the root instead. Collective over all ranks
 *  of the job. config may be NULL. */
STRATA_API strataResult_t strataCommInitFromEnv(strataComm_t* comm, const strataConfig_t* config);

/** Splits comm: ranks passing the same color join one new communicator, ordered by key then by
 *  their rank in comm. A color of STRATA_SPLIT_NOCOLOR stores NULL in *newcomm. Collective over
 *  the ranks of comm. config may be NULL (the parent's options are inherited). */
STRATA_API strataResult_t strataCommSplit(strataComm_t comm, int color, int key,
                                          strataComm_t* newcomm, strataConfig_t* config);

/** Shrinks comm (NCCL's ncclCommShrink): the ranks of comm not listed in excludeRanks form a new
 *  communicator, renumbered densely in their old order, over a fresh bootstrap among them that
 *  needs nothing of the excluded ranks (which do not call). Every other rank calls with the same
 *  list. shrinkFlags: STRATA_SHRINK_DEFAULT, or STRATA_SHRINK_ABORT after a rank was lost.
 *  config may be NULL (the parent's options are inherited). */
STRATA_API strataResult_t strataCommShrink(strataComm_t comm, const int* excludeRanks,
                                           int excludeRanksCount, strataComm_t* newcomm,
                                           strataConfig_t* config, int shrinkFlags);

/** Completes the operations queued on comm and synchronises with its peers. */
STRATA_API strataResult_t strataCommFinalize(strataComm_t comm);

/** Frees comm's resources. Call after strataCommFinalize, or after strataCommAbort. */
STRATA_API strataResult_t strataCommDestroy(strataComm_t comm);

/** Aborts comm from any thread: every wait on it returns within 100 ms, peers see
 *  strataRemoteError, and the communicator is freed. */
STRATA_API strataResult_t strataCommAbort(strataComm_t comm);

/** Stores comm's asynchronous state in *asyncError: strataInProgress while a nonblocking init
 *  runs, the error of a failed queued operation, or strataSuccess. */
STRATA_API strataResult_t strataCommGetAsyncError(strataComm_t comm, strataResult_t* asyncError);

/** Stores the number of ranks of comm in *count. */
STRATA_API strataResult_t strataCommCount(const strataComm_t comm, int* count);

/** Stores the rank of the caller in comm in *rank. */
STRATA_API strataResult_t strataCommUserRank(const strataComm_t comm, int* rank);

/** Creates a stream: a library thread that runs queued work in order. */
STRATA_API strataResult_t strataStreamCreate(strataStream_t* stream);

/** Waits for the stream's queued work, then frees it. */
STRATA_API strataResult_t strataStreamDestroy(strataStream_t stream);

/** Waits until every operation queued on stream has completed; returns the first error among
 *  them (which is also recorded on its communicator). */
STRATA_API strataResult_t strataStreamSynchronize(strataStream_t stream);

/** strataSuccess when every queued operation has completed, strataInProgress otherwise. */
STRATA_API strataResult_t strataStreamQuery(strataStream_t stream);

/** Creates a reduction operator of comm (NCCL's ncclRedOpCreatePreMulSum): in strataAllReduce,
 *  strataReduce and strataReduceScatter on comm with elements of datatype, it sums over the ranks
 *  scalar_r x x_r, where scalar_r (one element of datatype) is the scalar rank r gave. Each rank
 *  multiplies its own input once (fp16, bf16 and fp8: in float32, rounded to the type; integers:
 *  wrapping integer product), then the call sums as strataSum does. residence says when *scalar
 *  is read: at creation (strataScalarHostImmediate) or when each call runs (strataScalarDevice).
 *  Stores the new op in *op. Local (no communication). */
STRATA_API strataResult_t strataRedOpCreatePreMulSum(strataRedOp_t* op, void* scalar,
                                                     strataDataType_t datatype,
                                                     strataScalarResidence_t residence,
                                                     strataComm_t comm);

/** Destroys an op of strataRedOpCreatePreMulSum on comm. Calls already issued with it (queued on
 *  a stream) still run with it; later calls and a second destroy are refused. Destroying comm
 *  destroys its ops. Local. */
STRATA_API strataResult_t strataRedOpDestroy(strataRedOp_t op, strataComm_t comm);

/** Reduces count elements across ranks with op; every rank receives the result. In place when
 *  sendbuff == recvbuff. */
STRATA_API strataResult_t strataAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                                          strataDataType_t datatype, strataRedOp_t op,
                                          strataComm_t comm, strataStream_t stream);

/** Copies count elements from root's sendbuff to every rank's recvbuff. sendbuff is read on the
 *  root only. In place when sendbuff == recvbuff on the root. */
STRATA_API strataResult_t strataBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                                          strataDataType_t datatype, int root, strataComm_t comm,
                                          strataStream_t stream);

/** In-place Broadcast (NCCL's legacy ncclBcast): copies count elements of root's buff into every
 *  rank's buff. The same as strataBroadcast(buff, buff, ...), with errors naming strataBcast and
 *  buff. */
STRATA_API strataResult_t strataBcast(void* buff, size_t count, strataDataType_t datatype, int root,
                                      strataComm_t comm, strataStream_t stream);

/** Reduces count elements across ranks with op into root's recvbuff (recvbuff is used on the
 *  root only). */
STRATA_API strataResult_t strataReduce(const void* sendbuff, void* recvbuff, size_t count,
                                       strataDataType_t datatype, strataRedOp_t op, int root,
                                       strataComm_t comm, strataStream_t stream);

/** Gathers count elements from every rank into root's recvbuff (nranks*count elements), ordered
 *  by rank; recvbuff is used on the root only. In place when sendbuff == recvbuff + root*count
 *  on the root. */
STRATA_API strataResult_t strataGather(const void* sendbuff, void* recvbuff, size_t count,
                                       strataDataType_t datatype, int root, strataComm_t comm,
                                       strataStream_t stream);

/** Sends block r (count elements) of root's sendbuff (nranks*count elements) to rank r's
 *  recvbuff; sendbuff is read on the root only. In place when recvbuff == sendbuff + root*count
 *  on the root. */
STRATA_API strataResult_t strataScatter(const void* sendbuff, void* recvbuff, size_t count,
                                        strataDataType_t datatype, int root, strataComm_t comm,
                                        strataStream_t stream);

/** Gathers sendcount elements from every rank into recvbuff (nranks*sendcount elements), ordered
 *  by rank. In place when sendbuff == recvbuff + rank*sendcount. */
STRATA_API strataResult_t strataAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                                          strataDataType_t datatype, strataComm_t comm,
                                          strataStream_t stream);

/** Gathers sendcount elements from every rank; rank r's block lands at recvbuff + rdispls[r] and
 *  holds recvcounts[r] elements (which must equal rank r's sendcount). */
STRATA_API strataResult_t strataAllGatherv(const void* sendbuff, size_t sendcount, void* recvbuff,
                                           const size_t* recvcounts, const size_t* rdispls,
                                           strataDataType_t datatype, strataComm_t comm,
                                           strataStream_t stream);

/** Reduces nranks*recvcount elements with op; rank r receives block r. In place when
 *  recvbuff == sendbuff + rank*recvcount. */
STRATA_API strataResult_t strataReduceScatter(const void* sendbuff, void* recvbuff,
                                              size_t recvcount, strataDataType_t datatype,
                                              strataRedOp_t op, strataComm_t comm,
                                              strataStream_t stream);

/** Sends block j (count elements) of sendbuff to rank j; block i of recvbuff comes from rank i.
 *  sendbuff and recvbuff must not overlap unless equal (in place). */
STRATA_API strataResult_t strataAllToAll(const void* sendbuff, void* recvbuff, size_t count,
                                         strataDataType_t datatype, strataComm_t comm,
                                         strataStream_t stream);

/** Sends sendcounts[j] elements at sendbuff + sdispls[j] to rank j and receives recvcounts[i]
 *  elements from rank i at recvbuff + rdispls[i]. Counts must match pairwise. */
STRATA_API strataResult_t strataAllToAllv(const void* sendbuff, const size_t* sendcounts,
                                          const size_t* sdispls, void* recvbuff,
                                          const size_t* recvcounts, const size_t* rdispls,
                                          strataDataType_t datatype, strataComm_t comm,
                                          strataStream_t stream);

/** Sends count elements to peer, matched in order with peer's strataRecv. */
STRATA_API strataResult_t strataSend(const void* sendbuff, size_t count, strataDataType_t datatype,
                                     int peer, strataComm_t comm, strataStream_t stream);

/** Receives count elements from peer, matched in order with peer's strataSend. */
STRATA_API strataResult_t strataRecv(void* recvbuff, size_t count, strataDataType_t datatype,
                                     int peer, strataComm_t comm, strataStream_t stream);

/** Returns once every rank of comm has entered the barrier. */
STRATA_API strataResult_t strataBarrier(strataComm_t comm, strataStream_t stream);

/** Starts a group: calls until the matching strataGroupEnd are fused and run together, so that
 *  Send/Recv pairs and calls on several communicators from one thread cannot deadlock. */
STRATA_API strataResult_t strataGroupStart(void);

/** Ends a group and runs (or, with streams, queues) the fused calls. */
STRATA_API strataResult_t strataGroupEnd(void);

/** Number of topology levels statistics are kept for (level 0 = same host or server). */
#define STRATA_MAX_LEVELS 4

/** Counters of one operation, or summed over operations. An operation is one call, or one
 *  fused group, on the communicator. */
typedef struct {
  double simTimeUs;                      /**< Simulated time in microseconds: how far this rank's
                                              virtual clock advanced (sim transport only; 0
                                              otherwise). */
  uint64_t bytesSent[STRATA_MAX_LEVELS]; /**< Bytes this rank sent, by the topology level that
                                              joins it to the receiver. */
  uint64_t syncs;                        /**< Synchronisations: chunk handshakes (flag waits)
                                              this rank completed as a receiver. */
  uint64_t steps;                        /**< Plan phases (algorithm steps) this rank completed. */
  uint64_t ops;                          /**< Operations counted. */
  uint64_t callBytes;                    /**< Size of the calls' data as nccl-tests' `size`
                                              column counts it (AllGather: the gathered output;
                                              ReduceScatter: the scattered input; AllToAll: the
                                              whole buffer), summed over the calls. */
} strataOpStats_t;

/** Statistics of one rank's communicator (strataCommGetStats). */
typedef struct {
  int numLevels;         /**< Levels of the communicator's topology; bytesSent[numLevels...]
                              stay 0. */
  double simClockUs;     /**< This rank's virtual clock in microseconds (sim only; 0 otherwise). */
  strataOpStats_t last;  /**< The last completed operation (all 0 before the first). */
  strataOpStats_t total; /**< Every operation since init. */
  char lastAlgo[32];     /**< The algorithm the last operation ran ("ring", "oneshot", ...;
                              "p2p" for Send/Recv; docs/tuning.md), "" before the first. */
  char lastAlgoSource[16]; /**< What chose lastAlgo: "tune string" (STRATA_ALGO), "tune file"
                                (STRATA_TUNE_FILE), "model" or "fallback"; "" for Send/Recv and
                                before the first operation. */
} strataStats_t;

/** Stores comm's statistics in *stats. With the sim transport ("sim"), last.simTimeUs is the
 *  simulated duration of the last operation on this rank; ranks' clocks run on from one
 *  operation to the next without synchronising, so the simulated time of a collective is the
 *  largest last.simTimeUs over its ranks, and that of a sequence the largest simClockUs. */
STRATA_API strataResult_t strataCommGetStats(strataComm_t comm, strataStats_t* stats);

/** Result of strataSimTimingOnly. */
typedef struct {
  int nranks;                            /**< Ranks of the topology. */
  int numLevels;                         /**< Levels of the topology. */
  double simTimeUs;                      /**< From a common start until the last rank finished. */
  double minRankTimeUs;                  /**< Until the first rank finished. */
  uint64_t bytesSent[STRATA_MAX_LEVELS]; /**< Summed over ranks, by level. */
  uint64_t syncs;                        /**< Summed over ranks. */
  uint64_t steps;                        /**< Summed over ranks. */
  char algo[32];                         /**< Algorithm the scheduler chose (or the tune string
                                              pinned). */
  char algoSource[16];                   /**< What chose it: "tune string", "tune file",
                                              "model" or "fallback". */
} strataSimResult_t;

/** Timing-only simulation of one collective: builds every rank's plan exactly as a communicator
 *  of the topology's ranks would (same algorithms, tune string and chunking as the "sim"
 *  transport) and walks them through the sim link model on the calling thread, with no buffers,
 *  no payload and no threads; the times equal those the "sim" transport reports for the same
 *  call from a cold start. config (may be NULL) supplies topoFile (a preset such as "hccs-8" or
 *  "cm384", or a topology JSON file; default STRATA_TOPO_FILE) and algo; other fields are
 *  ignored. collective is named as in tune strings: "allreduce", "broadcast", "reduce",
 *  "gather", "scatter", "allgather", "reducescatter", "alltoall" or "barrier"; count, datatype,
 *  op and root mean what they mean in the matching call; inPlace (0 or 1) selects the in-place
 *  variant. */
STRATA_API strataResult_t strataSimTimingOnly(const strataConfig_t* config, const char* collective,
                                              size_t count, strataDataType_t datatype,
                                              strataRedOp_t op, int root, int inPlace,
                                              strataSimResult_t* result);

/** Stores the number of ranks of a topology (a preset name or a topology JSON file; NULL means
 *  STRATA_TOPO_FILE) in *nranks: the nranks to pass to strataCommInitAll with the "sim"
 *  transport. */
STRATA_API strataResult_t strataTopoGetRankCount(const char* topology, int* nranks);

/** Charges microseconds of the caller's compute to stream's virtual clock on this rank (the sim
 *  transport), so that a collective queued on another stream overlaps it as it would on the
 *  device (docs/flashcomm.md, DuoStream). stream NULL is the caller's own thread: its clock moves
 *  now. A stream's clock moves when the stream reaches the charge, after the work queued there
 *  before it. A call queued on a stream starts no earlier than the caller's clock when it was
 *  queued, its stream's clock and the end of the communicator's previous operation;
 *  strataStreamSynchronize brings the caller's clock up to the stream's, and
 *  strataCommGetStats' simClockUs is the latest of them. On a transport without a virtual clock
 *  (shm, ucx, ofi) it does nothing and returns strataSuccess: the caller's real compute already
 *  takes its time. microseconds must be finite and >= 0. */
STRATA_API strataResult_t strataSimCompute(strataComm_t comm, strataStream_t stream,
                                           double microseconds);

/* ---- Quantised AllGather (docs/quantization.md) ---------------------------------------------
 * The sender quantises its sendcount elements of srcType (float32, float16 or bfloat16) once:
 * each block of blockElems elements gets one symmetric float32 scale (blockElems = the hidden
 * size gives one scale per token; a count that is not a multiple of blockElems ends in a short
 * block). The values and the scales are gathered; rank r's part of the output is block-for-block
 * rank r's quantised input.
 *   int8:     scale = max|x| / 127, value = round(x / scale) in [-127, 127]
 *   int4:     scale = max|x| / 7,   value = round(x / scale) in [-7, 7], two values a byte,
 *             low nibble first (element 2i in bits 0-3 of byte i, 2i+1 in bits 4-7)
 *   fp8 e4m3: scale = max|x| / 448, value = x / scale rounded to OCP E4M3FN
 * NaN and infinities propagate element by element: a block holding any gets a negative scale
 * (-|scale|), its finite values use a slightly narrower range (int8 +-126, int4 +-6, fp8 +-416),
 * and the reserved codes (int8 -128 NaN, +-127 +-Inf; int4 -8 NaN, +-7 +-Inf; fp8 its NaN and
 * +-448 for +-Inf) dequantise to exactly those values. */

/** Low-bit formats of the quantised AllGather. */
typedef enum STRATA_ENUM_INT {
  strataQuantInt8 = 0,    /**< int8 with a float32 scale per block. */
  strataQuantInt4 = 1,    /**< int4, two a byte (low nibble first), a float32 scale per block. */
  strataQuantFp8e4m3 = 2, /**< fp8 E4M3FN with a float32 scale per block. */
  strataNumQuants = 3
} strataQuant_t;

/** AllGather through a low-bit format: every rank quantises its sendcount elements of srcType
 *  once, the values and block scales are gathered, and every rank dequantises them into
 *  recvbuff (nranks x sendcount elements of srcType; rank r's at r x sendcount). Every rank's
 *  output, its own block included, holds the dequantised values, so all ranks hold the same
 *  result. In place when sendbuff == recvbuff + rank x sendcount elements. */
STRATA_API strataResult_t strataAllGatherQuantized(const void* sendbuff, void* recvbuff,
                                                   size_t sendcount, strataDataType_t srcType,
                                                   strataQuant_t quant, size_t blockElems,
                                                   strataComm_t comm, strataStream_t stream);

/** Bytes of sendcount values of one rank in `quant`: sendcount for int8 and fp8,
 *  ceil(sendcount / 2) for int4. Rank r's values start at r x this many bytes of recvValues. */
STRATA_API size_t strataQuantValueBytes(strataQuant_t quant, size_t sendcount);

/** Like strataAllGatherQuantized, without dequantising: recvValues receives every rank's
 *  packed values (nranks x strataQuantValueBytes(quant, sendcount) bytes, rank r's at r x that)
 *  and recvScales every rank's scales (nranks x ceil(sendcount / blockElems) floats, rank r's at
 *  r x that). The input is quantised, so it cannot share memory with the outputs. */
STRATA_API strataResult_t strataAllGatherQuantizedRaw(const void* sendbuff, void* recvValues,
                                                      float* recvScales, size_t sendcount,
                                                      strataDataType_t srcType, strataQuant_t quant,
                                                      size_t blockElems, strataComm_t comm,
                                                      strataStream_t stream);

/** The raw gather of an input that is already quantised: sendValues
 *  (strataQuantValueBytes(quant, sendcount) bytes) and sendScales (ceil(sendcount / blockElems)
 *  floats) are gathered as they are into recvValues and recvScales, laid out as in
 *  strataAllGatherQuantizedRaw. In place when sendValues and sendScales are this rank's parts of
 *  recvValues and recvScales. */
STRATA_API strataResult_t strataAllGatherQuantizedRawPrequantized(
    const void* sendValues, const float* sendScales, void* recvValues, float* recvScales,
    size_t sendcount, strataQuant_t quant, size_t blockElems, strataComm_t comm,
    strataStream_t stream);

/* ---- FlashComm: the fused AllReduce (docs/flashcomm.md) -------------------------------------
 * An AllReduce written as ReduceScatter -> an epilogue on this rank's reduced shard ->
 * AllGather, in one call: the caller's per-token work after a tensor-parallel matmul (residual
 * add, RMSNorm) runs on 1/nranks of the rows instead of all of them, and the gather can travel
 * as int8 with one scale per row. */

/** An epilogue: called on this rank's reduced shard, in place, before it is gathered. shard
 *  points at recvbuff + elemOffset elements and holds elemCount elements of dtype (whole rows
 *  when a row length is given); user is strataEpilogue_t.user. It runs on the thread that runs
 *  the call (the stream's thread for a queued call) and must not call Strata on the same
 *  communicator. */
typedef void (*strataEpilogueFn_t)(void* shard, size_t elemOffset, size_t elemCount,
                                   strataDataType_t dtype, void* user);

/** What strataAllReduceFused does between its ReduceScatter and its AllGather. */
typedef struct {
  strataEpilogueFn_t fn; /**< Called on the owned shard (required). */
  void* user;            /**< Passed to fn as it is. */
  size_t rowElems;       /**< 0: the shards are count / nranks elements (the first count % nranks
                              ranks one more) and fn is called once on the whole shard. > 0: the
                              row length (the hidden size); count must be a multiple of it, each
                              rank owns whole rows (rows / nranks, the first rows % nranks ranks
                              one more row, so no padding is ever seen), and fn is called once
                              per block of whole rows as soon as that block is reduced, while
                              the rest of the ReduceScatter goes on. */
  int quantizeGather;    /**< 0: gather in datatype. 1: the epilogue's output is quantised to
                              `quant` with one float32 scale per row (rowElems required; datatype
                              float32, float16 or bfloat16) and gathered as values + scales, then
                              dequantised on every rank, own shard included, so every rank holds
                              the same result. */
  strataQuant_t quant;   /**< Format of the quantised gather (strataQuantInt8 for W8A8). */
} strataEpilogue_t;

/** Reduces count elements across ranks with op like strataAllReduce, calling epi->fn on the
 *  reduced shard this rank owns before the shards are gathered, so recvbuff ends holding the
 *  epilogue's output on every rank (for Avg the shard is divided before fn sees it). One plan:
 *  a ReduceScatter, callbacks on the owned shard, an AllGather (int8 with per-row scales when
 *  epi->quantizeGather). In place when sendbuff == recvbuff. Low-precision types reduce at their
 *  own width (strataConfig_t.reducePrecision does not apply). */
STRATA_API strataResult_t strataAllReduceFused(const void* sendbuff, void* recvbuff, size_t count,
                                               strataDataType_t datatype, strataRedOp_t op,
                                               const strataEpilogue_t* epi, strataComm_t comm,
                                               strataStream_t stream);

/* ---- MoE expert parallelism (docs/moe.md) ---------------------------------------------------
 * Dispatch sends each token's hidden state to the ranks holding its top-k experts (once per
 * rank, however many of its experts that rank holds) and hands each rank its tokens grouped by
 * local expert; combine sends the expert outputs back and sums them, weighted by the top-k
 * weights, on the token's own rank. Shaped after DeepEP's Buffer / get_dispatch_layout /
 * dispatch / combine and Ascend's MoeDistributeDispatch / Combine. Expert e lives on rank
 * e / (numExperts / nranks) as local expert e % (numExperts / nranks). A buffer owns receive
 * space for the worst case (every rank sends all its tokens to one rank), so a dispatch sends
 * its payload without first exchanging sizes and allocates nothing. */

/** Quantisation of one leg of dispatch or combine. */
typedef enum STRATA_ENUM_INT {
  strataMoeQuantNone = 0, /**< The payload travels in the buffer's dtype. */
  strataMoeQuantInt8 = 1, /**< int8 with one float32 scale per token (max|x| / 127): per token
                               H + 4 bytes instead of 2H for bf16. */
  strataNumMoeQuants = 2
} strataMoeQuant_t;

/** The shape a MoE buffer serves. Every rank of the communicator creates its buffer with the
 *  same values (a dispatch between buffers of different shapes fails with strataInvalidUsage
 *  naming the peer). */
typedef struct {
  size_t maxTokensPerRank;        /**< Most tokens a rank passes to one dispatch (>= 1). */
  size_t hidden;                  /**< Elements per token (>= 1). */
  int topk;                       /**< Experts per token, 1..numExperts. */
  int numExperts;                 /**< Experts in all, a multiple of the number of ranks. */
  strataDataType_t dtype;         /**< Payload: strataBfloat16, strataFloat16 or strataFloat32. */
  strataMoeQuant_t dispatchQuant; /**< How the dispatch payload travels. */
  strataMoeQuant_t combineQuant;  /**< How the combine payload travels. */
  int numSlots;                   /**< Physical expert slots (replicas included), a multiple of
                                       the ranks: rank r holds slots [r x numSlots / nranks,
                                       (r + 1) x numSlots / nranks). 0 means numExperts, one
                                       slot per expert (slot e holds expert e). More slots than
                                       experts need strataMoeBufferSetPlacement. */
} strataMoeConfig_t;

/** A MoE buffer: one communicator's dispatch/combine state and worst-case receive space. */
typedef struct strataMoeBuffer* strataMoeBuffer_t;
/** Names the dispatch whose rows a combine returns (DeepEP's handle). A value the caller keeps;
 *  the state it refers to lives in the buffer and is valid until the buffer's next dispatch. */
typedef struct {
  uint64_t internal[2];
} strataMoeHandle_t;

/** Creates a MoE buffer for comm with the shape in *config. Collective when every rank is on one
 *  host over shared memory (the ranks map each other's receive slots and dispatch and combine
 *  write straight into them; STRATA_MOE_DIRECT=0 turns this off); local otherwise. */
STRATA_API strataResult_t strataMoeBufferCreate(strataComm_t comm, const strataMoeConfig_t* config,
                                                strataMoeBuffer_t* buffer);

/** Sets which logical expert each physical slot holds (slotExpert[numSlots], every expert in at
 *  least one slot), for the dispatches that follow on this rank; every rank sets the same
 *  placement. A token's expert is sent to one of its replicas, in this order of preference: a
 *  replica on the token's own rank; else one on the same host (topology level 0); else
 *  candidates[source rank % n] among all replicas (among the same-host ones when there are
 *  several). Dispatch then groups rows by local slot (recvCountsPerExpert has numSlots / nranks
 *  entries). Local (no communication). */
STRATA_API strataResult_t strataMoeBufferSetPlacement(strataMoeBuffer_t buffer,
                                                      const int32_t* slotExpert, int numSlots);

/** EPLB-style placement from per-expert load (expertLoad[numExperts], e.g. tokens routed to each
 *  expert): the nranks x slotsPerRank - numExperts spare slots go one at a time to the expert
 *  with the largest load per replica; then replicas, heaviest (load / replicas) first, go to the
 *  lightest rank with a free slot. Writes slotExpert[nranks x slotsPerRank] (rank r's slots at
 *  r x slotsPerRank). *maxMeanBefore (may be NULL) receives max/mean rank load with expert e on
 *  rank e x nranks / numExperts and no replicas, *maxMeanAfter (may be NULL) the same for the
 *  placement, a replica carrying load / replicas. */
STRATA_API strataResult_t strataMoePlacementCompute(const double* expertLoad, int numExperts,
                                                    int nranks, int slotsPerRank,
                                                    int32_t* slotExpert, double* maxMeanBefore,
                                                    double* maxMeanAfter);

/** The replica (slot) each of numExperts logical experts goes to from rank `rank` under the
 *  placement slotExpert[numSlots] (numSlots a multiple of nranks), by the rule
 *  strataMoeBufferSetPlacement documents: a replica on `rank`, else one on its host (level 0 of
 *  `topology`, a preset or topology file; NULL: no host known), else candidates[rank % n].
 *  Writes slotOfExpert[numExperts]; slot s lives on rank s / (numSlots / nranks). For callers
 *  that route without a buffer, e.g. the tokensSent of strataMoeSimTimingOnly. Local. */
STRATA_API strataResult_t strataMoePlacementRoute(const char* topology, const int32_t* slotExpert,
                                                  int numSlots, int numExperts, int nranks,
                                                  int rank, int32_t* slotOfExpert);

/** Timing-only simulation of one MoE dispatch and the combine that follows on a modelled
 *  topology (config->topoFile or STRATA_TOPO_FILE, e.g. "cm384"): every rank's plan built as a
 *  buffer of shape *moe builds it, walked through the sim link model with no payload and no
 *  threads. tokensSent[s x nranks + d] is how many tokens rank s sends to rank d (each token
 *  once per destination rank; at most maxTokensPerRank). The times equal those the "sim"
 *  transport reports for the same routing. */
STRATA_API strataResult_t strataMoeSimTimingOnly(const strataConfig_t* config,
                                                 const strataMoeConfig_t* moe,
                                                 const size_t* tokensSent,
                                                 strataSimResult_t* dispatch,
                                                 strataSimResult_t* combine);

/** As strataMoeSimTimingOnly for a routing given token by token, on the route a buffer takes:
 *  on a topology of two levels the two-level route of docs/moe.md (each token crosses level 1
 *  once per destination group), else (or with STRATA_MOE_ROUTE=flat) the flat one.
 *  slotIdx[(s x maxTokensPerRank + t) x topk + j] is the expert slot (expert id without a
 *  placement; -1: none) of rank s's token t, for t < numTokens[s] <= maxTokensPerRank. Local. */
STRATA_API strataResult_t strataMoeSimTimingOnlyRouted(const strataConfig_t* config,
                                                       const strataMoeConfig_t* moe,
                                                       const int32_t* slotIdx,
                                                       const size_t* numTokens,
                                                       strataSimResult_t* dispatch,
                                                       strataSimResult_t* combine);

/** Frees a MoE buffer (and the handles it gave out). */
STRATA_API strataResult_t strataMoeBufferDestroy(strataMoeBuffer_t buffer);

/** Stores in *maxRecvTokens the most rows a dispatch on this buffer can deliver to a rank:
 *  nranks x maxTokensPerRank x min(topk, local slots). The receive arrays of
 *  strataMoeDispatch hold that many rows. */
STRATA_API strataResult_t strataMoeGetMaxRecvTokens(strataMoeBuffer_t buffer,
                                                    size_t* maxRecvTokens);

/** From this rank's top-k expert ids (numTokens x topk of idxType, strataInt32 or strataInt64;
 *  -1 marks an unused slot), computes as DeepEP's get_dispatch_layout does (locally, no
 *  communication): numTokensPerRank[nranks] (tokens sent to each rank), numTokensPerExpert
 *  [numExperts] and isTokenInRank[numTokens x nranks] (1 when token t goes to rank r). Any
 *  output may be NULL. */
STRATA_API strataResult_t strataMoeGetLayout(strataMoeBuffer_t buffer, const void* topkIdx,
                                             strataDataType_t idxType, size_t numTokens,
                                             int* numTokensPerRank, int* numTokensPerExpert,
                                             uint8_t* isTokenInRank);

/** Dispatches this rank's numTokens tokens (x: numTokens x hidden of xType, the buffer's dtype)
 *  to the ranks of their experts (topkIdx: numTokens x topk of idxType; topkWeights:
 *  numTokens x topk float32). Collective over the communicator's ranks. On return (or when the
 *  stream's work has run) this rank holds *numRecvTokens rows, grouped by local expert (local
 *  expert 0's rows first; within an expert by source rank, then by the source's token order):
 *  recvX (rows x hidden of the buffer's dtype; dequantised when the leg is int8), and for each
 *  row its token's topk global expert ids (recvTopkIdx, int32, rows x topk) and weights
 *  (recvTopkWeights, rows x topk); recvCountsPerExpert[local experts] counts the rows of each
 *  local expert. recvTopkIdx and recvTopkWeights may be NULL. *handle (may be NULL) receives
 *  what strataMoeCombine needs. */
STRATA_API strataResult_t strataMoeDispatch(strataMoeBuffer_t buffer, const void* x,
                                            strataDataType_t xType, size_t numTokens,
                                            const void* topkIdx, strataDataType_t idxType,
                                            const float* topkWeights, void* recvX,
                                            int32_t* recvTopkIdx, float* recvTopkWeights,
                                            int* recvCountsPerExpert, size_t* numRecvTokens,
                                            strataMoeHandle_t* handle, strataStream_t stream);

/** Sends the expert outputs of the rows handle's dispatch delivered (expertOut: those rows x
 *  hidden of type, the buffer's dtype, in the order dispatch delivered them) back to their
 *  source ranks, where combinedX[t] (numTokens x hidden of type, the dispatch's numTokens)
 *  receives sum over token t's experts of weight x output, accumulated in float32 and rounded
 *  once. Each rank first sums its rows of one token, so one row per token and rank travels
 *  back. Collective over the communicator's ranks. */
STRATA_API strataResult_t strataMoeCombine(strataMoeBuffer_t buffer,
                                           const strataMoeHandle_t* handle,
                                           const void* expertOut, strataDataType_t type,
                                           void* combinedX, strataStream_t stream);

/** Token-grained pipelining (docs/moe.md). A dispatch moves each peer's tokens in chunks of
 *  chunkTokens tokens and places every chunk's rows where they end up as soon as it lands; a
 *  combine sends each chunk of tokens back once the caller has handed back its rows. Sets the
 *  chunk size of the calls that follow (0: the default, max(16, maxTokensPerRank / 4) capped at
 *  maxTokensPerRank; values above maxTokensPerRank mean one chunk, no pipelining). Every rank
 *  sets the same value (a dispatch between different sizes fails on every rank, naming the
 *  peer). Local; call it between dispatches, not while one is queued. */
STRATA_API strataResult_t strataMoeBufferSetChunkTokens(strataMoeBuffer_t buffer,
                                                        size_t chunkTokens);
/** Stores the buffer's tokens per chunk in *chunkTokens. */
STRATA_API strataResult_t strataMoeBufferGetChunkTokens(strataMoeBuffer_t buffer,
                                                        size_t* chunkTokens);

/** Rows of one local expert (slot) that have landed: rows [firstRow, firstRow + numRows) of the
 *  dispatch's recvX, recvTopkIdx and recvTopkWeights, all from one source rank. */
typedef struct {
  int localExpert;
  size_t firstRow;
  size_t numRows;
} strataMoeChunk_t;

/** Hands out the next rows of the buffer's last strataMoeDispatch that have landed and were not
 *  handed out before: of local expert localExpert (0 .. local slots - 1), or of any (-1). Issue
 *  the dispatch on a stream and this call overlaps the expert's work on one chunk with the
 *  transfer of the next (with a NULL stream the dispatch has completed and every row is
 *  there). With wait != 0 it blocks (backing off; bounded by the communicator's timeout) until
 *  rows land; with wait == 0 it returns strataInProgress when nothing new has landed (a poll).
 *  strataSuccess with chunk->numRows > 0: a chunk; with chunk->numRows == 0: every row (of that
 *  expert) has been handed out. A failed dispatch returns its error here too. Rows of one expert
 *  are handed out as they land, not necessarily in row order; the layout itself is the one
 *  strataMoeDispatch documents, whatever the chunk size. */
STRATA_API strataResult_t strataMoeDispatchNextChunk(strataMoeBuffer_t buffer, int localExpert,
                                                     int wait, strataMoeChunk_t* chunk);

/** strataMoeCombine whose expert outputs become final a chunk at a time: expertOut (every row
 *  the dispatch delivered x hidden of type) is written by the caller while the combine runs,
 *  and each range of final rows is announced with strataMoeCombineRowsReady. The tokens of one
 *  dispatch chunk travel back once all their rows here are final, so issued on a stream the
 *  transfer overlaps the expert work still to do. Results are bit-identical to
 *  strataMoeCombine's. Collective over the communicator's ranks. */
STRATA_API strataResult_t strataMoeCombinePipelined(strataMoeBuffer_t buffer,
                                                    const strataMoeHandle_t* handle,
                                                    const void* expertOut, strataDataType_t type,
                                                    void* combinedX, strataStream_t stream);

/** Announces that rows [firstRow, firstRow + numRows) of the expertOut of handle's pipelined
 *  combine are final (each row once; rows that have landed). Local. */
STRATA_API strataResult_t strataMoeCombineRowsReady(strataMoeBuffer_t buffer,
                                                    const strataMoeHandle_t* handle,
                                                    size_t firstRow, size_t numRows);

/** A registered window: memory from strataMemAlloc that every rank of a communicator has mapped
 *  (docs/windows.md). */
typedef struct strataWindow* strataWindow_t;

/** Allocates `size` bytes (rounded up to a page, zero-filled) that ranks in other processes of
 *  this host can map: an anonymous memfd, mode 0600, close-on-exec, sealed against resizing.
 *  Free with strataMemFree. */
STRATA_API strataResult_t strataMemAlloc(void** ptr, size_t size);

/** Frees memory from strataMemAlloc. strataInvalidArgument when ptr is not the start of such an
 *  allocation; strataInvalidUsage while a window still covers it. Peers that mapped it keep
 *  their mapping until they deregister; the pages are released once nobody maps them. */
STRATA_API strataResult_t strataMemFree(void* ptr);

/** Registers [buff, buff + size), which must lie in one strataMemAlloc allocation, as a window of
 *  `comm`. Collective: every rank calls it, in the same order as its other registrations. Ranks
 *  of other processes on this host receive the allocation's descriptor over a Unix socket and
 *  map it. Collectives whose buffers lie in windows at the same offset on every rank (and
 *  within every rank's window) read and write peers' buffers directly instead of copying
 *  through the transport. flags must be 0. */
STRATA_API strataResult_t strataCommWindowRegister(strataComm_t comm, void* buff, size_t size,
                                                   strataWindow_t* win, int flags);

/** Deregisters a window (collective) and unmaps the peers' memory it mapped.
 *  strataInvalidArgument while a call queued on a stream still uses it. */
STRATA_API strataResult_t strataCommWindowDeregister(strataComm_t comm, strataWindow_t win);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* STRATA_STRATA_H_ */
