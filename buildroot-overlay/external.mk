include $(sort $(wildcard $(BR2_EXTERNAL_DESKPHONE_PATH)/package/*/*.mk))
