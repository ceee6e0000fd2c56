/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Reads courtvision's results in C: boxes and keypoints from the ROI metas of the buffers an
 * appsink receives, with the stock GStreamer API (no courtvision header or library).
 *
 *   cc read_detections.c -o read_detections \
 *     $(pkg-config --cflags --libs gstreamer-1.0 gstreamer-video-1.0 gstreamer-app-1.0)
 *   GST_PLUGIN_PATH=... ./read_detections DET.onnx POSE.onnx [FRAMES]
 *
 * Analyses FRAMES (default 30) frames of videotestsrc and prints one line per frame and one per
 * detection: label, confidence, box in frame pixels, the element that found it and its
 * keypoints (x, y, score). */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdio.h>
#include <stdlib.h>

static void
print_detection (const GstVideoRegionOfInterestMeta * roi)
{
  const GstStructure *det = gst_video_region_of_interest_meta_get_param (
      (GstVideoRegionOfInterestMeta *) roi, "detection");
  gdouble confidence = -1.0;
  const gchar *source = "";
  const GValue *keypoints = NULL;
  guint i;

  if (det != NULL) {
    gst_structure_get_double (det, "confidence", &confidence);
    if (gst_structure_has_field (det, "source"))
      source = gst_structure_get_string (det, "source");
    keypoints = gst_structure_get_value (det, "keypoints");
  }
  printf ("  %s %.3f box (%u, %u, %u, %u) from %s",
      g_quark_to_string (roi->roi_type), confidence, roi->x, roi->y, roi->w, roi->h, source);
  if (keypoints != NULL && GST_VALUE_HOLDS_ARRAY (keypoints)) {
    printf (" keypoints");
    for (i = 0; i < gst_value_array_get_size (keypoints); i++) {
      const GValue *k = gst_value_array_get_value (keypoints, i);
      printf (" (%.1f,%.1f,%.2f)",
          g_value_get_double (gst_value_array_get_value (k, 0)),
          g_value_get_double (gst_value_array_get_value (k, 1)),
          g_value_get_double (gst_value_array_get_value (k, 2)));
    }
  }
  printf ("\n");
}

int
main (int argc, char **argv)
{
  GstElement *pipeline, *sink;
  GstSample *sample;
  GstMessage *msg;
  GError *error = NULL;
  gchar *desc;
  guint frame = 0;
  int status = 0;

  gst_init (&argc, &argv);
  if (argc < 3) {
    fprintf (stderr, "usage: %s DET.onnx POSE.onnx [FRAMES]\n", argv[0]);
    return 2;
  }
  desc = g_strdup_printf ("videotestsrc num-buffers=%d ! video/x-raw,width=640,height=360 "
      "! videoconvert ! yolodetect model=\"%s\" ! posedetect model=\"%s\" "
      "! appsink name=sink sync=false", argc > 3 ? atoi (argv[3]) : 30, argv[1], argv[2]);
  pipeline = gst_parse_launch (desc, &error);
  g_free (desc);
  if (pipeline == NULL) {
    fprintf (stderr, "read_detections: %s\n", error->message);
    return 1;
  }
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) != NULL) {
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    gpointer state = NULL;
    GstMeta *meta;

    printf ("frame %u pts %" GST_TIME_FORMAT ": %u detections\n", frame++,
        GST_TIME_ARGS (GST_BUFFER_PTS (buffer)),
        gst_buffer_get_n_meta (buffer, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE));
    while ((meta = gst_buffer_iterate_meta_filtered (buffer, &state,
                GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) != NULL)
      print_detection ((GstVideoRegionOfInterestMeta *) meta);
    gst_sample_unref (sample);
  }
  msg = gst_bus_pop_filtered (GST_ELEMENT_BUS (pipeline), GST_MESSAGE_ERROR);
  if (msg != NULL) {
    GError *err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    fprintf (stderr, "read_detections: %s: %s\n", GST_OBJECT_NAME (msg->src), err->message);
    g_error_free (err);
    gst_message_unref (msg);
    status = 1;
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  return status;
}
